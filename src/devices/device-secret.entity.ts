import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Device } from './device.entity';

/**
 * A device secret sealed with AES-256-GCM under a KEK. A device has one
 * current secret (expiresAt null) and, during a rotation grace period, one
 * previous secret with an expiry.
 */
@Entity('device_secrets')
export class DeviceSecret {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('ix_device_secrets_device')
  @Column({ name: 'device_id', type: 'uuid' })
  deviceId: string;

  @ManyToOne(() => Device, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'device_secrets_device_id_fkey' })
  device?: Device;

  /** iv (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes). */
  @Column({ type: 'bytea' })
  sealed: Buffer;

  @Index('ix_device_secrets_kek')
  @Column({ name: 'kek_id', type: 'varchar', length: 32 })
  kekId: string;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
