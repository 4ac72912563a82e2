import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  type RateLimitStore,
  type RedisRateLimitStore,
  secondsLeft,
} from '../common/rate-limit.store';
import { StatementBatcher } from '../database/statement-batcher';
import {
  BATCHES_IN_FLIGHT,
  type DeviceCredentialsRepository,
  type NonceAdmission,
} from './device-credentials.repository';

export type { NonceAdmission } from './device-credentials.repository';

/** The client's failure window (a RateLimitStore key): at `limit` failures, requests are refused. */
export interface FailureLimit {
  key: string;
  limit: number;
}

/** NonceAdmission, or the client over its failure limit (the nonce left unused). */
export type Admission = NonceAdmission | { outcome: 'limited'; retryAfter: number };

/**
 * The last step of device authentication, after the signature verified
 * with the key of `secretId`: the database confirms that this very secret
 * is still live (so revocation, deletion and rotation act on the very next
 * request on every instance, whatever a key cache holds) and the nonce is
 * recorded for `ttlSeconds` across all instances; the client's failure
 * window is read at the same time. One round trip's latency, and two
 * concurrent requests with one nonce cannot both pass. A request refused as
 * not live, or for the failure limit (answered 429), does not use its nonce up.
 */
export abstract class NonceStore {
  abstract admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
    failures: FailureLimit,
  ): Promise<Admission>;

  close(): void {}
}

// For each request of a batch, the client's failure window, and the nonce by
// SET NX EX unless the window has reached the limit, in the batch's order:
// one command for the whole batch. KEYS: the nonce, the window, for each
// request; ARGV: the nonce's TTL in seconds, the limit, for each request.
// Answers set (1, 0, or -1: limited) and the window's PTTL for each request,
// one flat list.
const ADMIT = `
local out = {}
for i = 1, #KEYS, 2 do
  local failures = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  local pttl = redis.call('PTTL', KEYS[i + 1])
  local set = -1
  if failures < tonumber(ARGV[i + 1]) then
    set = redis.call('SET', KEYS[i], '1', 'EX', ARGV[i], 'NX') and 1 or 0
  end
  out[#out + 1] = set
  out[#out + 1] = pttl
end
return out`;

interface AdmitCommand {
  admitNonces(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

interface NonceRequest {
  key: string;
  windowKey: string;
  ttlSeconds: number;
  limit: number;
}

/** A request's answer from ADMIT. */
type NonceResult = { set: number; pttl: number };

/**
 * Redis: one script reads the failure window and sets the nonce (SET NX EX)
 * unless the window is full, while PostgreSQL checks liveness: both at the
 * same time. The requests that arrive together go to Redis as one script
 * call, as their liveness checks go to PostgreSQL as one statement (ioredis
 * spent ~14 µs of CPU on each call, ~5 µs a request in calls of 25). A nonce
 * set for a request that turns out not live is deleted again. The window is
 * the one `limits` counts in, on the same Redis.
 */
export class RedisNonceStore extends NonceStore {
  private readonly logger = new Logger('NonceStore');
  private readonly commands: AdmitCommand;
  private readonly nonces: StatementBatcher<NonceRequest, NonceResult>;

  constructor(
    private readonly redis: Redis,
    private readonly credentials: DeviceCredentialsRepository,
    private readonly limits: RedisRateLimitStore,
    private readonly prefix = 'dr:nonce:',
  ) {
    super();
    redis.defineCommand('admitNonces', { lua: ADMIT });
    this.commands = redis as unknown as AdmitCommand;
    this.nonces = new StatementBatcher((requests) => this.admitAll(requests), BATCHES_IN_FLIGHT);
  }

  async admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
    failures: FailureLimit,
  ): Promise<Admission> {
    const key = this.key(deviceId, nonce);
    const windowKey = this.limits.keyOf(failures.key);
    const [{ set, pttl }, live] = await Promise.all([
      this.nonces.run({ key, windowKey, ttlSeconds, limit: failures.limit }),
      this.credentials.findLiveDevice(deviceId, secretId),
    ]);
    if (set === -1) return { outcome: 'limited', retryAfter: secondsLeft(pttl) };
    if (!live) {
      if (set === 1) await this.giveBack(key);
      return { outcome: 'not_live' };
    }
    return set === 1
      ? { outcome: 'ok', device: live.device, checkedAt: live.checkedAt }
      : { outcome: 'replayed' };
  }

  private async admitAll(requests: NonceRequest[]): Promise<NonceResult[]> {
    const keys = requests.flatMap((r) => [r.key, r.windowKey]);
    const args = requests.flatMap((r) => [r.ttlSeconds, r.limit]);
    const out = await this.commands.admitNonces(keys.length, ...keys, ...args);
    return requests.map((_, i) => ({ set: out[2 * i], pttl: out[2 * i + 1] }));
  }

  private key(deviceId: string, nonce: string): string {
    return `${this.prefix}${deviceId}:${nonce}`;
  }

  /** Only the request that set the key (NX) may take it back. */
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
 * (device_id, nonce) primary key (see DeviceCredentialsRepository), while
 * `limits` is asked for the failure window; a nonce recorded for a client
 * that turns out to be over the limit is deleted again. Rows go with their
 * device (FK cascade); expired ones are purged periodically.
 */
export class PostgresNonceStore extends NonceStore {
  private readonly logger = new Logger('NonceStore');
  private readonly purger: NodeJS.Timeout;

  constructor(
    private readonly credentials: DeviceCredentialsRepository,
    private readonly limits: RateLimitStore,
    purgeEverySeconds = 60,
  ) {
    super();
    this.purger = setInterval(() => void this.purge(), purgeEverySeconds * 1000).unref();
  }

  async admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
    failures: FailureLimit,
  ): Promise<Admission> {
    const [window, admission] = await Promise.all([
      this.limits.peek(failures.key),
      this.credentials.recordNonceIfLive(deviceId, secretId, nonce, ttlSeconds),
    ]);
    if (window.count < failures.limit) return admission;
    if (admission.outcome === 'ok') await this.release(deviceId, nonce);
    return { outcome: 'limited', retryAfter: window.retryAfter };
  }

  /** Takes back the nonce `admit` recorded for a request it then refused. */
  private async release(deviceId: string, nonce: string): Promise<void> {
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
