import {
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Logger,
  Patch,
  Post,
  Put,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { toErrorBody } from '../common/all-exceptions.filter';
import { toDeviceSelfDto } from '../devices/device.mapper';
import { DeviceAuthService, DeviceRequestDescription } from './device-auth.service';
import { DeviceSelfDto } from './dto/device-self.dto';
import { ForwardAuthRoute } from './forward-auth.decorator';
import { ForwardedDeviceRequest } from './forwarded-request.decorator';

/** Carries the error body of a refused verification, for proxies that drop the body of an auth answer. */
export const AUTH_ERROR_HEADER = 'X-Device-Auth-Error';

/**
 * Forward auth: a reverse proxy in front of the owner's own API asks, per
 * request, whether the device request it is about to pass on is correctly
 * signed (nginx auth_request, Traefik forwardAuth, Caddy forward_auth, Envoy
 * ext_authz). One handler per method the contract lists (HEAD comes with GET),
 * all the same: the verify call's own method, query and body are ignored.
 */
@Controller('device-auth')
export class ForwardAuthController {
  private readonly logger = new Logger('ForwardAuth');

  constructor(private readonly auth: DeviceAuthService) {}

  @Get('verify')
  @ForwardAuthRoute('GET (and HEAD)')
  verifyGet(
    @ForwardedDeviceRequest() r: DeviceRequestDescription,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.verify(r, reply);
  }

  @Post('verify')
  @HttpCode(HttpStatus.OK)
  @ForwardAuthRoute('POST')
  verifyPost(
    @ForwardedDeviceRequest() r: DeviceRequestDescription,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.verify(r, reply);
  }

  @Put('verify')
  @ForwardAuthRoute('PUT')
  verifyPut(
    @ForwardedDeviceRequest() r: DeviceRequestDescription,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.verify(r, reply);
  }

  @Patch('verify')
  @ForwardAuthRoute('PATCH')
  verifyPatch(
    @ForwardedDeviceRequest() r: DeviceRequestDescription,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.verify(r, reply);
  }

  @Delete('verify')
  @ForwardAuthRoute('DELETE')
  verifyDelete(
    @ForwardedDeviceRequest() r: DeviceRequestDescription,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.verify(r, reply);
  }

  private async verify(r: DeviceRequestDescription, reply: FastifyReply): Promise<DeviceSelfDto> {
    const result = await this.auth.authenticate(r);
    if (!result.ok) {
      const error = result.failure.toApiError();
      // nginx's auth_request keeps an auth answer's headers but not its body:
      // the body goes in a header too, so nginx can give the device the same
      // answer. The messages are ASCII, as a header value must be.
      const { body } = toErrorBody(error, this.logger);
      throw new ApiError(error.getStatus(), error.code, result.failure.message, {
        ...error.headers,
        [AUTH_ERROR_HEADER]: JSON.stringify(body),
      });
    }
    const device = result.device;
    void reply.headers({
      'X-Device-Id': device.id,
      'X-Device-Owner-Id': device.userId,
      // Names are any UTF-8; a header value is not.
      'X-Device-Name': encodeURIComponent(device.name),
      // All the device holds, not only what was required: the upstream may
      // decide finer-grained things itself. Empty when it holds none.
      'X-Device-Scopes': device.scopes.join(' '),
    });
    return toDeviceSelfDto(device);
  }
}
