import { ApiProperty } from '@nestjs/swagger';
import { DeviceDto } from '../../devices/dto/device-responses.dto';

/** GET /device/me: the device as its owner sees it, plus who the owner is. */
export class DeviceSelfDto extends DeviceDto {
  @ApiProperty({ format: 'uuid', description: 'The owner of the device' })
  ownerId: string;
}
