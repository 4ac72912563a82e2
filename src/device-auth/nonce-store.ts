import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { DeviceCredentialsRepository, NonceAdmission } from './device-credentials.repository';

export type { NonceAdmission } from './device-credentials.repository';

/**
 * The last step of device authentication, after the signature verified
 * with the key of `secretId`: the database confirms that this very secret
 * is still live (so revocation, deletion and rotation act on the very next
 * request on every instance, whatever a key cache holds) and the nonce is
 * recorded for `ttlSeconds` across all instances. One round trip's latency,
 * and two concurrent requests with one nonce cannot both pass. A request
 * refused as not live does not use its nonce up.
 */
export abstract class NonceStore {
  abstract admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
  ): Promise<NonceAdmission>;

  /**
   * Takes back a nonce that `admit` recorded for a request refused after all
   * (its client IP turned out to be over the failure limit): a request
   * answered 429 leaves its nonce unused, as one refused before verification.
   */
  abstract release(deviceId: string, nonce: string): Promise<void>;

  close(): void {}
}

/**
 * Redis: the nonce by SET NX EX and the liveness check in PostgreSQL, sent
 * at the same time. A nonce set for a request that turns out not live is
 * deleted again.
 */
export class RedisNonceStore extends NonceStore {
  private readonly logger = new Logger('NonceStore');

  constructor(
    private readonly redis: Redis,
    private readonly credentials: DeviceCredentialsRepository,
    private readonly prefix = 'dr:nonce:',
  ) {
    super();
  }

  async admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
  ): Promise<NonceAdmission> {
    const key = this.key(deviceId, nonce);
    const [set, live] = await Promise.all([
      this.redis.set(key, '1', 'EX', ttlSeconds, 'NX'),
      this.credentials.findLiveDevice(deviceId, secretId),
    ]);
    if (!live) {
      if (set === 'OK') await this.giveBack(key);
      return { outcome: 'not_live' };
    }
    return set === 'OK' ? { outcome: 'ok', ...live } : { outcome: 'replayed' };
  }

  /** Only the request that set the key (NX) may take it back. */
  release(deviceId: string, nonce: string): Promise<void> {
    return this.giveBack(this.key(deviceId, nonce));
  }

  private key(deviceId: string, nonce: string): string {
    return `${this.prefix}${deviceId}:${nonce}`;
  }

  private async giveBack(key: string): Promise<void> {
    try {
      await this.redis.del(key);
    } catch (error) {
      // The nonce stays used: the device signs its next request with a new one anyway.
      this.logger.warn(`Releasing a nonce failed: ${(error as Error).message}`);
    }
  }
}

/**
 * PostgreSQL: one statement checks the secret and inserts the nonce on the
 * (device_id, nonce) primary key (see DeviceCredentialsRepository). Rows go
 * with their device (FK cascade); expired ones are purged periodically.
 */
export class PostgresNonceStore extends NonceStore {
  private readonly logger = new Logger('NonceStore');
  private readonly purger: NodeJS.Timeout;

  constructor(
    private readonly credentials: DeviceCredentialsRepository,
    purgeEverySeconds = 60,
  ) {
    super();
    this.purger = setInterval(() => void this.purge(), purgeEverySeconds * 1000).unref();
  }

  admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
  ): Promise<NonceAdmission> {
    return this.credentials.recordNonceIfLive(deviceId, secretId, nonce, ttlSeconds);
  }

  async release(deviceId: string, nonce: string): Promise<void> {
    try {
      await this.credentials.releaseNonce(deviceId, nonce);
    } catch (error) {
      // As in Redis: the nonce stays used, and the device signs anew anyway.
      this.logger.warn(`Releasing a nonce failed: ${(error as Error).message}`);
    }
  }

  async purge(): Promise<number> {
    try {
      return await this.credentials.purgeNonces();
    } catch (error) {
      this.logger.warn(`Purging expired nonces failed: ${(error as Error).message}`);
      return 0;
    }
  }

  override close(): void {
    clearInterval(this.purger);
  }
}
