import { Inject, Module, OnModuleDestroy } from '@nestjs/common';
import type Redis from 'ioredis';
import { RateLimitStore, RedisRateLimitStore } from '../common/rate-limit.store';
import { REDIS } from '../common/redis';
import { DevicesModule } from '../devices/devices.module';
import { SecretChanges } from '../devices/secret-changes';
import { SecretSealer } from '../devices/secret-sealer';
import { DeviceCredentialsRepository } from './device-credentials.repository';
import { DeviceKeyCache } from './device-key-cache';
import { DeviceSignatureGuard } from './device-signature.guard';
import { DeviceAuthService } from './device-auth.service';
import { DeviceSelfController } from './device-self.controller';
import { ForwardAuthController } from './forward-auth.controller';
import { LastSeenRecorder } from './last-seen.recorder';
import { NonceStore, PostgresNonceStore, RedisNonceStore } from './nonce-store';

/**
 * Device authentication by HMAC-signed requests: DeviceAuthService and its
 * two entrances (the guard of @DeviceAuth() routes, the forward-auth endpoint
 * for the owner's own APIs), the cache of unsealed device keys, the nonce
 * store (Redis when REDIS_URL is set, else PostgreSQL), lastSeenAt recording
 * and the device routes. Import this module and put @DeviceAuth() on a route
 * to protect it with device signatures.
 */
@Module({
  imports: [DevicesModule],
  controllers: [DeviceSelfController, ForwardAuthController],
  providers: [
    DeviceCredentialsRepository,
    DeviceAuthService,
    DeviceSignatureGuard,
    LastSeenRecorder,
    {
      provide: DeviceKeyCache,
      inject: [DeviceCredentialsRepository, SecretSealer, SecretChanges],
      useFactory: (
        credentials: DeviceCredentialsRepository,
        sealer: SecretSealer,
        changes: SecretChanges,
      ) => new DeviceKeyCache(credentials, sealer, changes),
    },
    {
      provide: NonceStore,
      inject: [REDIS, DeviceCredentialsRepository, RateLimitStore],
      useFactory: (
        redis: Redis | null,
        credentials: DeviceCredentialsRepository,
        limits: RateLimitStore,
      ) =>
        redis && limits instanceof RedisRateLimitStore
          ? new RedisNonceStore(redis, credentials, limits)
          : new PostgresNonceStore(credentials, limits),
    },
  ],
  exports: [
    DeviceAuthService,
    DeviceSignatureGuard,
    DeviceCredentialsRepository,
    DeviceKeyCache,
    LastSeenRecorder,
    NonceStore,
    DevicesModule,
  ],
})
export class DeviceAuthModule implements OnModuleDestroy {
  constructor(@Inject(NonceStore) private readonly nonces: NonceStore) {}

  onModuleDestroy(): void {
    this.nonces.close();
  }
}
