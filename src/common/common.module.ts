import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { redisConfig, RedisConfig } from '../config/configuration';
import { MemoryRateLimitStore, RateLimitStore, RedisRateLimitStore } from './rate-limit.store';
import { connectRedis, REDIS } from './redis';

/** Cross-cutting infrastructure: the optional Redis client and the rate-limit counters. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [redisConfig.KEY],
      useFactory: (cfg: RedisConfig) => connectRedis(cfg.url),
    },
    {
      provide: RateLimitStore,
      inject: [REDIS],
      useFactory: (redis: Redis | null) =>
        redis ? new RedisRateLimitStore(redis) : new MemoryRateLimitStore(),
    },
  ],
  exports: [REDIS, RateLimitStore],
})
export class CommonModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
    private readonly limits: RateLimitStore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.limits.close();
    await this.redis?.quit().catch(() => undefined);
  }
}
