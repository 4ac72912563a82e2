import { API_PREFIX } from '../common/api-prefix';
import {
  applyDecorators,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Patch,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AuthUser, CurrentUser } from '../auth/current-user.decorator';
import { ApiErrors } from '../common/api-docs';
import { PageQueryDto } from '../common/pagination';
import { DeviceOwnershipGuard, OwnedDevice } from './device-ownership.guard';
import type { Device } from './device.entity';
import { toDeviceDto } from './device.mapper';
import { DevicesService } from './devices.service';
import {
  CreateDeviceDto,
  ListDevicesQueryDto,
  RotateSecretDto,
  UpdateDeviceDto,
} from './dto/device-requests.dto';
import {
  DeviceDto,
  DeviceEventListDto,
  DeviceListDto,
  DeviceWithSecretDto,
  RotatedDeviceDto,
} from './dto/device-responses.dto';

/** A /devices/{id} route: the caller must own the device. */
function OwnedDeviceRoute() {
  return applyDecorators(
    UseGuards(DeviceOwnershipGuard),
    ApiParam({ name: 'id', format: 'uuid', description: 'Device id' }),
    ApiErrors(
      [400, '`validation_failed`: the id is not a UUID, or the body is invalid'],
      [403, '`forbidden`: the device belongs to another user'],
      [404, '`device_not_found`'],
    ),
  );
}

const NO_STORE = { 'Cache-Control': 'no-store' };
/** Response headers of the two responses that carry a secret. */
const CACHE_CONTROL_NO_STORE = {
  'Cache-Control': {
    description: '`no-store`: the response holds a secret',
    schema: { type: 'string', enum: ['no-store'] },
  },
};

@ApiTags('devices')
@ApiBearerAuth()
@Controller('devices')
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Post()
  @ApiOperation({
    summary: 'Register a device',
    description:
      'Returns the device and its secret, with `Location: /api/v1/devices/{id}` and `Cache-Control: no-store`. ' +
      'The secret is shown here once and never again. `expiresAt`, `scopes` and `allowedCidrs` are optional.',
  })
  @ApiCreatedResponse({
    type: DeviceWithSecretDto,
    headers: {
      Location: {
        description: 'The new device: `/api/v1/devices/{id}`',
        schema: { type: 'string', example: '/api/v1/devices/1b4e28ba-2fa1-41d2-883f-0016d3cca427' },
      },
      ...CACHE_CONTROL_NO_STORE,
    },
  })
  @ApiErrors([
    409,
    '`device_name_taken`, or `device_limit_reached` (MAX_DEVICES_PER_USER active devices)',
  ])
  async registerDevice(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateDeviceDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DeviceWithSecretDto> {
    const created = await this.devices.register(user.id, body);
    reply.headers({ ...NO_STORE, Location: `/${API_PREFIX}/devices/${created.id}` });
    return created;
  }

  @Get()
  @ApiOperation({ summary: 'List your devices, newest first' })
  @ApiOkResponse({ type: DeviceListDto })
  @ApiErrors([400, '`validation_failed`: a query parameter is invalid'])
  listDevices(
    @CurrentUser() user: AuthUser,
    @Query() query: ListDevicesQueryDto,
  ): Promise<DeviceListDto> {
    return this.devices.list(user.id, query);
  }

  @Get(':id')
  @OwnedDeviceRoute()
  @ApiOperation({ summary: 'One of your devices' })
  @ApiOkResponse({ type: DeviceDto })
  getDevice(@OwnedDevice() device: Device): DeviceDto {
    return toDeviceDto(device);
  }

  @Patch(':id')
  @OwnedDeviceRoute()
  @ApiOperation({
    summary: 'Rename a device or change its credential policy',
    description:
      'Give at least one of `name`, `expiresAt`, `scopes`, `allowedCidrs`; absent fields keep their values, ' +
      '`expiresAt: null` removes the expiry. A field equal to its current value changes nothing. ' +
      'Events: `renamed`, and `policy_changed` with the changed policy fields `before` and `after`.',
  })
  @ApiOkResponse({ type: DeviceDto })
  @ApiErrors([409, '`device_name_taken`, or `device_revoked`'])
  updateDevice(@OwnedDevice() device: Device, @Body() body: UpdateDeviceDto): Promise<DeviceDto> {
    return this.devices.update(device, body);
  }

  @Post(':id/disable')
  @HttpCode(HttpStatus.NO_CONTENT)
  @OwnedDeviceRoute()
  @ApiOperation({
    summary: 'Switch a device off',
    description:
      'Its signed requests are refused with 401 `device_disabled` until it is enabled again; unlike revoke, ' +
      'its secrets are kept. Idempotent: disabledAt keeps its first value. Event: `disabled`.',
  })
  @ApiNoContentResponse()
  @ApiErrors([409, '`device_revoked`'])
  async disableDevice(@OwnedDevice() device: Device): Promise<void> {
    await this.devices.setDisabled(device, true);
  }

  @Post(':id/enable')
  @HttpCode(HttpStatus.NO_CONTENT)
  @OwnedDeviceRoute()
  @ApiOperation({
    summary: 'Switch a disabled device back on',
    description:
      'The same secrets work again. Idempotent: enabling an enabled device changes nothing. Event: `enabled`.',
  })
  @ApiNoContentResponse()
  @ApiErrors([409, '`device_revoked`'])
  async enableDevice(@OwnedDevice() device: Device): Promise<void> {
    await this.devices.setDisabled(device, false);
  }

  @Post(':id/revoke')
  @HttpCode(HttpStatus.NO_CONTENT)
  @OwnedDeviceRoute()
  @ApiOperation({
    summary: 'Revoke a device',
    description:
      "Destroys the device's secrets; its next signed request fails. Idempotent: revokedAt keeps its first value.",
  })
  @ApiNoContentResponse()
  async revokeDevice(@OwnedDevice() device: Device): Promise<void> {
    await this.devices.revoke(device);
  }

  @Post(':id/rotate-secret')
  @HttpCode(HttpStatus.OK)
  @OwnedDeviceRoute()
  @ApiOperation({
    summary: 'Issue a new secret',
    description:
      'The new secret is shown once (`Cache-Control: no-store`). With `graceSeconds` > 0 the previous secret keeps ' +
      'working until `previousSecretExpiresAt`; only one previous secret is kept.',
  })
  @ApiOkResponse({ type: RotatedDeviceDto, headers: CACHE_CONTROL_NO_STORE })
  @ApiErrors([409, '`device_revoked`'])
  async rotateDeviceSecret(
    @OwnedDevice() device: Device,
    @Body() body: RotateSecretDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RotatedDeviceDto> {
    const rotated = await this.devices.rotateSecret(device, body.graceSeconds ?? 0);
    reply.headers(NO_STORE);
    return rotated;
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @OwnedDeviceRoute()
  @ApiOperation({ summary: 'Delete a device with its secrets and events' })
  @ApiNoContentResponse()
  async deleteDevice(@OwnedDevice() device: Device): Promise<void> {
    await this.devices.delete(device);
  }

  @Get(':id/events')
  @OwnedDeviceRoute()
  @ApiOperation({ summary: "The device's audit trail, newest first" })
  @ApiOkResponse({ type: DeviceEventListDto })
  listDeviceEvents(
    @OwnedDevice() device: Device,
    @Query() query: PageQueryDto,
  ): Promise<DeviceEventListDto> {
    return this.devices.events(device, query);
  }
}
