import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { UnparsedBody } from '../common/body-parsers';
import { RouteMetadata } from '../common/route-metadata';
import type { AuthenticatedDevice } from './current-device.decorator';
import { DeviceAuthService } from './device-auth.service';
import { sha256Hex } from './signing';

/** Route metadata: the scopes a @DeviceAuth() route needs. */
export const DEVICE_SCOPES = 'deviceAuth:scopes';

interface DeviceRequest extends FastifyRequest {
  rawBody?: Buffer;
  device?: AuthenticatedDevice;
}

/**
 * The HTTP side of @DeviceAuth() routes: describes the Fastify request to
 * DeviceAuthService (the target exactly as sent, the hash of the body as
 * received, the client IP as TRUST_PROXY defines it, the scopes the route
 * declares with @DeviceAuth({ scopes })) and turns its answer into the device
 * on the request or an error.
 */
@Injectable()
export class DeviceSignatureGuard implements CanActivate {
  constructor(
    private readonly auth: DeviceAuthService,
    private readonly reflector: Reflector,
  ) {}

  /** The scopes the route needs: declared on the handler, on its controller, or both (all are needed). */
  private readonly requiredScopes = new RouteMetadata((handler, controller) =>
    this.reflector.getAllAndMerge<string[]>(DEVICE_SCOPES, [handler, controller]),
  );

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<DeviceRequest>();
    const result = await this.auth.authenticate({
      method: req.method,
      target: req.url,
      bodySha256: sha256Hex(req.rawBody),
      headers: req.headers,
      clientIp: req.ip,
      requiredScopes: this.requiredScopes.of(context),
    });
    if (!result.ok) throw result.failure.toApiError();
    req.device = result.device;
    // Only now may the client learn that its body could not be parsed.
    if (req.body instanceof UnparsedBody) throw req.body.error;
    return true;
  }
}
