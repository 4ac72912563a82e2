import { Body, Controller, HttpCode, HttpStatus, Module, Post } from '@nestjs/common';
import { AuthenticatedDevice, CurrentDevice } from '../../src/device-auth/current-device.decorator';
import { DeviceAuth } from '../../src/device-auth/device-auth.decorator';
import { DeviceAuthModule } from '../../src/device-auth/device-auth.module';

/**
 * A device route outside /device/, as an owner's own module would add one:
 * it must get the device treatment (4 KiB body limit, authentication before
 * body errors) from @DeviceAuth() alone.
 */
@Controller('probe')
class DeviceProbeController {
  @Post('orders')
  @HttpCode(HttpStatus.OK)
  @DeviceAuth()
  order(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body() body: Record<string, unknown>,
  ): { deviceId: string; body: Record<string, unknown> } {
    return { deviceId: device.id, body };
  }
}

@Module({ imports: [DeviceAuthModule], controllers: [DeviceProbeController] })
export class DeviceProbeModule {}
