import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { DEVICE_STATUSES, type DeviceStatus } from '../device-status';
import { DeviceName } from './device-name';
import { AllowedCidrs, ExpiresAt, Scopes } from './device-policy';

export class CreateDeviceDto {
  @DeviceName()
  name: string;

  @ExpiresAt()
  expiresAt?: string | null;

  @Scopes()
  scopes?: string[];

  @AllowedCidrs()
  allowedCidrs?: string[];
}

/** PATCH: at least one field; an absent field keeps its value. */
export class UpdateDeviceDto {
  @ApiPropertyOptional() // after DeviceName's ApiProperty: only `required` changes
  @DeviceName()
  @ValidateIf((o: UpdateDeviceDto) => o.name !== undefined)
  name?: string;

  @ExpiresAt()
  expiresAt?: string | null;

  @Scopes()
  scopes?: string[];

  @AllowedCidrs()
  allowedCidrs?: string[];
}

export const MAX_GRACE_SECONDS = 604_800;

export class RotateSecretDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: MAX_GRACE_SECONDS,
    default: 0,
    description: 'How long the previous secret keeps working, in seconds (0: it stops at once).',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  graceSeconds?: number;
}

export class ListDevicesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    enum: DEVICE_STATUSES,
    description:
      'Only devices with this status (revoked wins over expired, expired over disabled).',
  })
  @IsOptional()
  @IsIn(DEVICE_STATUSES)
  status?: DeviceStatus;
}
