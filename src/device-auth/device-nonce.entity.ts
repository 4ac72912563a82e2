import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Device } from '../devices/device.entity';

/** Nonces already used by a device, remembered until they expire (PostgreSQL nonce store). */
@Entity('device_nonces')
export class DeviceNonce {
  @PrimaryColumn({ name: 'device_id', type: 'uuid' })
  deviceId: string;

  @PrimaryColumn({ type: 'varchar', length: 128 })
  nonce: string;

  @ManyToOne(() => Device, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'device_id', foreignKeyConstraintName: 'device_nonces_device_id_fkey' })
  device?: Device;

  @Index('ix_device_nonces_expires')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
