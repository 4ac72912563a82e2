import { CreateDateColumn, UpdateDateColumn } from 'typeorm';

/**
 * The database's clock, to the millisecond: the API shows milliseconds, and
 * the device list's cursor compares (createdAt, id) as it shows them. Every
 * time the database sets is this.
 */
export const NOW_MS = () => "date_trunc('milliseconds', now())";

/** `created_at`, set by the database on insert. */
export const CreatedAtColumn = () =>
  CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: NOW_MS });

/** `updated_at`, set by the database on insert; updates set it to NOW_MS themselves. */
export const UpdatedAtColumn = () =>
  UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', default: NOW_MS });
