import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { DEVICE_STATUSES, type DeviceStatus } from '../device-status';
import { DeviceName } from './device-name';
import { AllowedCidrs, ExpiresAt, Scopes } from './device-policy';

/** The credential policy, which both create and PATCH accept; an absent field keeps its value. */
class DevicePolicyFieldsDto {
  @ExpiresAt()
  expiresAt?: string | null;

  @Scopes()
  scopes?: string[];

  @AllowedCidrs()
  allowedCidrs?: string[];
}

export class CreateDeviceDto extends DevicePolicyFieldsDto {
  @DeviceName()
  name: string;
}

/** PATCH: at least one field; an absent field keeps its value. */
export class UpdateDeviceDto extends DevicePolicyFieldsDto {
  @ApiPropertyOptional() // after DeviceName's ApiProperty: only `required` changes
  @DeviceName()
  @ValidateIf((o: UpdateDeviceDto) => o.name !== undefined)
  name?: string;
}

export const MAX_GRACE_SECONDS = 604_800;

export class RotateSecretDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: MAX_GRACE_SECONDS,
    default: 0,
    example: 3600,
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
