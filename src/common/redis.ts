import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { ConfigError } from '../config/env';

export const REDIS = Symbol('REDIS');

/**
 * One client per instance, shared by the nonce store and the rate limits; null
 * without REDIS_URL. A Redis that does not answer at start stops the start
 * (naming REDIS_URL) instead of leaving a client reconnecting in the background.
 */
export async function connectRedis(url: string | undefined): Promise<Redis | null> {
  if (!url) return null;
  // Loaded only when used: a start without Redis does not pay for the module.
  const { Redis: RedisClient } = await import('ioredis');
  let connected = false;
  const client = new RedisClient(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    // ioredis's own back-off once connected; none before, so a failed start
    // leaves no timer behind (disconnect() would arm one of its own).
    retryStrategy: (attempt) => (connected ? Math.min(attempt * 50, 2000) : null),
  });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
    if (connected) new Logger('Redis').warn(`Redis: ${e.message}`);
  });
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    // connect() only says "Connection is closed"; the error event said why.
    const why = (lastError ?? (error as Error)).message;
    throw new ConfigError(
      'REDIS_URL',
      `names a Redis that does not answer (${new URL(url).host}: ${why})`,
    );
  }
  return client;
}
