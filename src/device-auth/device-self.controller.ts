import { Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { toDeviceSelfDto } from '../devices/device.mapper';
import { AuthenticatedDevice, CurrentDevice } from './current-device.decorator';
import { DeviceAuth } from './device-auth.decorator';
import { DeviceSelfDto } from './dto/device-self.dto';

/** Routes that devices call, signed with their secret. */
@ApiTags('device')
@Controller('device')
export class DeviceSelfController {
  @Get('me')
  @DeviceAuth()
  @ApiOperation({ summary: 'The calling device' })
  @ApiOkResponse({ type: DeviceSelfDto })
  getCurrentDevice(@CurrentDevice() device: AuthenticatedDevice): DeviceSelfDto {
    return toDeviceSelfDto(device);
  }

  @Post('heartbeat')
  @HttpCode(HttpStatus.NO_CONTENT)
  @DeviceAuth()
  @ApiOperation({
    summary: 'Tell the registry the device is alive',
    description:
      'Optional free-form JSON object of at most 4 KiB; updates lastSeenAt like every signed request.',
  })
  @ApiBody({
    required: false,
    schema: { type: 'object', additionalProperties: true, example: { equity: 10250.5 } },
  })
  @ApiNoContentResponse()
  @ApiErrors(
    [
      400,
      '`validation_failed`: the body is not a JSON object (answered only to an authenticated device)',
    ],
    [415, '`unsupported_media_type`: a body that is not application/json'],
  )
  sendHeartbeat(): void {
    // Nothing more to do: the guard has marked the device as seen, and the
    // body parser has checked that the body is a JSON object.
  }
}
