import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  HttpStatus,
  Injectable,
} from '@nestjs/common';
import { ApiError, badRequest, deviceNotFound } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import type { AuthUser } from '../auth/current-user.decorator';
import type { Device } from './device.entity';
import { DevicesRepository } from './devices.repository';
import { isUuid } from '../common/uuid';

interface OwnerRequest {
  params: { id?: string };
  user: AuthUser;
  ownedDevice?: Device;
}

/**
 * The one place ownership is decided for /devices/{id} routes (after the JWT
 * guard): 400 for an id that is not a UUID, 404 for no such device, 403 for
 * another user's device, without saying anything about it. The loaded device
 * is handed to the handler through @OwnedDevice().
 */
@Injectable()
export class DeviceOwnershipGuard implements CanActivate {
  constructor(private readonly devices: DevicesRepository) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<OwnerRequest>();
    const id = req.params.id ?? '';
    if (!isUuid(id)) throw badRequest(ErrorCode.ValidationFailed, 'id must be a UUID');
    const device = await this.devices.findById(id);
    if (!device) throw deviceNotFound();
    if (device.userId !== req.user.id) {
      throw new ApiError(
        HttpStatus.FORBIDDEN,
        ErrorCode.Forbidden,
        'This device belongs to another user',
      );
    }
    req.ownedDevice = device;
    return true;
  }
}

/** The device the ownership guard loaded and checked. */
export const OwnedDevice = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Device =>
    ctx.switchToHttp().getRequest<OwnerRequest>().ownedDevice!,
);
