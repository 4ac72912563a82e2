import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { DEVICE_STATUSES, type DeviceStatus } from '../device.entity';
import { DeviceName } from './device-name';

export class CreateDeviceDto {
  @DeviceName()
  name: string;
}

export class RenameDeviceDto {
  @DeviceName()
  name: string;
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
  @ApiPropertyOptional({ enum: DEVICE_STATUSES })
  @IsOptional()
  @IsIn(DEVICE_STATUSES)
  status?: DeviceStatus;
}
