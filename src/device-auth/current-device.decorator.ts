import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Device } from '../devices/device.entity';

/** The device that signed the request, as DeviceSignatureGuard verified it. */
export type AuthenticatedDevice = Device;

export const CurrentDevice = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthenticatedDevice =>
    ctx.switchToHttp().getRequest<{ device: AuthenticatedDevice }>().device,
);
