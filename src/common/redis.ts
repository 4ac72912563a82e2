import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

export const REDIS = Symbol('REDIS');

/** One client per instance, shared by the nonce store and the rate limits; null without REDIS_URL. */
export async function connectRedis(url: string | undefined): Promise<Redis | null> {
  if (!url) return null;
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
  });
  client.on('error', (e: Error) => new Logger('Redis').warn(`Redis: ${e.message}`));
  await client.connect();
  return client;
}
