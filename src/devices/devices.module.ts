import { Module } from '@nestjs/common';
import { devicesConfig, DevicesConfig } from '../config/configuration';
import { DeviceOwnershipGuard } from './device-ownership.guard';
import { DevicesController } from './devices.controller';
import { DevicesRepository } from './devices.repository';
import { DevicesService } from './devices.service';
import { SecretChanges } from './secret-changes';
import { SecretSealer } from './secret-sealer';
import { SecretsResealService } from './secrets-reseal.service';

/**
 * The owner side of devices: registration, listing, renaming, revocation,
 * secret rotation, deletion and the audit trail, behind the ownership guard.
 * Exports the repository, the sealer and the notice of secret changes for
 * device authentication.
 */
@Module({
  controllers: [DevicesController],
  providers: [
    DevicesService,
    DevicesRepository,
    DeviceOwnershipGuard,
    SecretsResealService,
    SecretChanges,
    {
      provide: SecretSealer,
      inject: [devicesConfig.KEY],
      useFactory: (cfg: DevicesConfig) => new SecretSealer(cfg.kek, cfg.kekPrevious),
    },
  ],
  exports: [DevicesRepository, SecretSealer, SecretsResealService, SecretChanges],
})
export class DevicesModule {}
