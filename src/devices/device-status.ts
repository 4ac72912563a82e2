/**
 * A device's status is derived, never stored: the timestamps are the one
 * source of truth. Revoked wins over expired, expired over disabled. The SQL
 * expression (for filtering in the database) and the function (for the
 * mapper) say the same thing and are tested against each other.
 */
export const DEVICE_STATUSES = ['active', 'disabled', 'expired', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export interface DeviceStatusFields {
  revokedAt: Date | null;
  expiresAt: Date | null;
  disabledAt: Date | null;
}

/** An expiry is reached at its instant: `expiresAt <= now` is expired. */
export function deviceStatus(d: DeviceStatusFields, now: Date = new Date()): DeviceStatus {
  if (d.revokedAt) return 'revoked';
  if (d.expiresAt && d.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (d.disabledAt) return 'disabled';
  return 'active';
}

/**
 * `deviceStatus` in SQL, for a query builder over `Device` under `alias`:
 * it names properties, which TypeORM turns into their columns.
 */
export function deviceStatusSql(alias: string): string {
  const field = (name: keyof DeviceStatusFields) => `${alias}.${name}`;
  return `CASE
    WHEN ${field('revokedAt')} IS NOT NULL THEN 'revoked'
    WHEN ${field('expiresAt')} <= now() THEN 'expired'
    WHEN ${field('disabledAt')} IS NOT NULL THEN 'disabled'
    ELSE 'active' END`;
}
