import { ApiProperty } from '@nestjs/swagger';
import { DEVICE_EVENT_TYPES, type DeviceEventType } from '../device-event.entity';
import { DEVICE_STATUSES, type DeviceStatus } from '../device.entity';

/** A device as owners and devices see it: never a secret, a hash or a ciphertext. */
export class DeviceDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'MT5 Main' })
  name: string;

  @ApiProperty({ enum: DEVICE_STATUSES })
  status: DeviceStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time', description: 'Bumped by rename, rotate and revoke.' })
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
    description: 'Event details (a rename has `from` and `to`); never a secret.',
  })
  details: Record<string, unknown>;
}

export class DeviceEventListDto {
  @ApiProperty({ type: [DeviceEventDto] })
  items: DeviceEventDto[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}
