import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { EntityManager } from 'typeorm';
import { pgError, queryRows } from '../database/query-rows';

/**
 * `fresh`: recorded now. `replayed`: already used. `unknown_device`: the
 * device no longer exists (deleted since it was looked up).
 */
export type NonceOutcome = 'fresh' | 'replayed' | 'unknown_device';

/** PostgreSQL's foreign_key_violation. */
const FOREIGN_KEY_VIOLATION = '23503';

/**
 * Remembers the nonces devices have used, for `ttlSeconds`, across all
 * instances. `remember` is one atomic operation that answers whether the
 * nonce was fresh, so two concurrent requests with one nonce cannot both pass.
 */
export abstract class NonceStore {
  abstract remember(deviceId: string, nonce: string, ttlSeconds: number): Promise<NonceOutcome>;
  close(): void {}
}

/** Redis: SET NX EX, one round trip. */
export class RedisNonceStore extends NonceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'dr:nonce:',
  ) {
    super();
  }

  async remember(deviceId: string, nonce: string, ttlSeconds: number): Promise<NonceOutcome> {
    const set = await this.redis.set(
      `${this.prefix}${deviceId}:${nonce}`,
      '1',
      'EX',
      ttlSeconds,
      'NX',
    );
    return set === 'OK' ? 'fresh' : 'replayed';
  }
}

/**
 * PostgreSQL: INSERT … ON CONFLICT on the (device_id, nonce) primary key. An
 * expired row that the purge has not reached yet is taken over, so the purge
 * interval never extends the TTL. Rows go with their device (FK cascade).
 */
export class PostgresNonceStore extends NonceStore {
  private readonly logger = new Logger('NonceStore');
  private readonly purger: NodeJS.Timeout;

  constructor(
    private readonly em: EntityManager,
    purgeEverySeconds = 60,
  ) {
    super();
    this.purger = setInterval(() => void this.purge(), purgeEverySeconds * 1000).unref();
  }

  async remember(deviceId: string, nonce: string, ttlSeconds: number): Promise<NonceOutcome> {
    try {
      const rows = await queryRows(
        this.em,
        `INSERT INTO device_nonces (device_id, nonce, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (device_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
           WHERE device_nonces.expires_at <= now()
         RETURNING 1`,
        [deviceId, nonce, ttlSeconds],
      );
      return rows.length === 1 ? 'fresh' : 'replayed';
    } catch (error) {
      // The device was deleted after its secrets were read: the foreign key
      // says so atomically, and the request is refused like any unknown device.
      if (pgError(error)?.code === FOREIGN_KEY_VIOLATION) return 'unknown_device';
      throw error;
    }
  }

  async purge(): Promise<number> {
    try {
      const rows = await queryRows(
        this.em,
        `DELETE FROM device_nonces WHERE expires_at <= now() RETURNING 1`,
      );
      return rows.length;
    } catch (error) {
      this.logger.warn(`Purging expired nonces failed: ${(error as Error).message}`);
      return 0;
    }
  }

  override close(): void {
    clearInterval(this.purger);
  }
}
