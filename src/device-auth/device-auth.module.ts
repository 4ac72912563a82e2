import { Inject, Module, OnModuleDestroy } from '@nestjs/common';
import { getEntityManagerToken } from '@nestjs/typeorm';
import type Redis from 'ioredis';
import type { EntityManager } from 'typeorm';
import { REDIS } from '../common/redis';
import { DevicesModule } from '../devices/devices.module';
import { DeviceCredentialsRepository } from './device-credentials.repository';
import { DeviceSignatureGuard } from './device-signature.guard';
import { DeviceAuthService } from './device-auth.service';
import { DeviceController } from './device.controller';
import { ForwardAuthController } from './forward-auth.controller';
import { LastSeenRecorder } from './last-seen.recorder';
import { NonceStore, PostgresNonceStore, RedisNonceStore } from './nonce-store';

/**
 * Device authentication by HMAC-signed requests: DeviceAuthService and its
 * two entrances (the guard of @DeviceAuth() routes, the forward-auth endpoint
 * for the owner's own APIs), the nonce store (Redis when REDIS_URL is set,
 * else PostgreSQL), lastSeenAt recording and the device routes. Import this module and put @DeviceAuth() on a route to
 * protect it with device signatures.
 */
@Module({
  imports: [DevicesModule],
  controllers: [DeviceController, ForwardAuthController],
  providers: [
    DeviceCredentialsRepository,
    DeviceAuthService,
    DeviceSignatureGuard,
    LastSeenRecorder,
    {
      provide: NonceStore,
      inject: [REDIS, getEntityManagerToken()],
      useFactory: (redis: Redis | null, em: EntityManager) =>
        redis ? new RedisNonceStore(redis) : new PostgresNonceStore(em),
    },
  ],
  exports: [
    DeviceAuthService,
    DeviceSignatureGuard,
    DeviceCredentialsRepository,
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
