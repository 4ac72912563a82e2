import { ApiProperty } from '@nestjs/swagger';
import { DEVICE_EVENT_TYPES, type DeviceEventType } from '../device-event.entity';
import { DEVICE_STATUSES, type DeviceStatus } from '../device-status';

/** A device as owners and devices see it: never a secret, a hash or a ciphertext. */
export class DeviceDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'MT5 Main' })
  name: string;

  @ApiProperty({
    enum: DEVICE_STATUSES,
    example: 'active',
    description:
      'Derived from the timestamps: `revoked` (revokedAt set) wins over `expired` (expiresAt reached), ' +
      '`expired` over `disabled` (disabledAt set); otherwise `active`.',
  })
  status: DeviceStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({
    format: 'date-time',
    description:
      'Bumped by every change: rename, policy change, disable, enable, rotate and revoke.',
  })
  updatedAt: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Last successful signed request; visible within 5 seconds.',
  })
  lastSeenAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: '2027-06-30T00:00:00.000Z',
    description: "When the device's signatures stop working; null: never.",
  })
  expiresAt: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description: 'Set by disable, cleared by enable; while set, signatures are refused.',
  })
  disabledAt: string | null;

  @ApiProperty({
    type: [String],
    example: ['orders:write', 'signals.read'],
    description: 'Sorted.',
  })
  scopes: string[];

  @ApiProperty({
    type: [String],
    example: ['203.0.113.0/24', '2001:db8::/48'],
    description: 'Normalised networks the device may sign requests from; [] means any address.',
  })
  allowedCidrs: string[];
}

const SECRET_DESCRIPTION =
  'The device secret: `dvs_` + base64url of random bytes. Shown in this response only; store it now.';

export class DeviceWithSecretDto extends DeviceDto {
  @ApiProperty({
    example: 'dvs_3q2-7wq5hT0mYxJc2QeJm6vWcY7WkN8i5m0x3bH3Z5E',
    description: SECRET_DESCRIPTION,
  })
  secret: string;
}

export class RotatedDeviceDto extends DeviceWithSecretDto {
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Until when the previous secret still works; null when graceSeconds was 0.',
  })
  previousSecretExpiresAt: string | null;
}

export class DeviceListDto {
  @ApiProperty({ type: [DeviceDto] })
  items: DeviceDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last page.',
  })
  nextCursor: string | null;
}

export class DeviceEventDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: DEVICE_EVENT_TYPES })
  type: DeviceEventType;

  @ApiProperty({ format: 'date-time' })
  at: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { from: 'Laptop', to: 'Office laptop' },
    description:
      'Event details; never a secret. `renamed`: `from` and `to`; `policy_changed`: `before` and `after`, ' +
      'each holding the changed fields among expiresAt, scopes and allowedCidrs; `registered`: `name` and the ' +
      'policy fields given; `secret_rotated`: `graceSeconds`.',
  })
  details: Record<string, unknown>;
}

export class DeviceEventListDto {
  @ApiProperty({ type: [DeviceEventDto] })
  items: DeviceEventDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}
