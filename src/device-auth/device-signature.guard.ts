import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { UnparsedBody } from '../common/body-parsers';
import type { AuthenticatedDevice } from './current-device.decorator';
import { DeviceAuthService } from './device-auth.service';
import { sha256Hex } from './signing';

interface DeviceRequest extends FastifyRequest {
  rawBody?: Buffer;
  device?: AuthenticatedDevice;
}

/**
 * The HTTP side of @DeviceAuth() routes: describes the Fastify request to
 * DeviceAuthService (the target exactly as sent, the hash of the body as
 * received) and turns its answer into the device on the request or an error.
 */
@Injectable()
export class DeviceSignatureGuard implements CanActivate {
  constructor(private readonly auth: DeviceAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<DeviceRequest>();
    const result = await this.auth.authenticate({
      method: req.method,
      target: req.url,
      bodySha256: sha256Hex(req.rawBody ?? ''),
      headers: req.headers,
      clientIp: req.ip,
    });
    if (!result.ok) throw result.failure.toApiError();
    req.device = result.device;
    // Only now may the client learn that its body could not be parsed.
    if (req.body instanceof UnparsedBody) throw req.body.error;
    return true;
  }
}
