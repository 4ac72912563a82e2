import {
  Column,
  Entity,
  Generated,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { NOW_MS } from '../database/timestamps';
import { Device } from './device.entity';

export const DEVICE_EVENT_TYPES = [
  'registered',
  'renamed',
  'secret_rotated',
  'revoked',
  'disabled',
  'enabled',
  'policy_changed',
] as const;
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];

/** The audit trail of one device; `seq` orders it and pages it. */
@Entity('device_events')
@Index('ix_device_events_device_seq', ['deviceId', 'seq'])
export class DeviceEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  seq: string;

  @Column({ type: 'uuid', unique: true })
  @Generated('uuid')
  id: string;

  @Column({ name: 'device_id', type: 'uuid' })
  deviceId: string;

  @ManyToOne(() => Device, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'device_events_device_id_fkey' })
  device?: Device;

  @Column({ type: 'varchar', length: 32 })
  type: DeviceEventType;

  @Column({ type: 'timestamptz', default: NOW_MS })
  at: Date;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;
}
