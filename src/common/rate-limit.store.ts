import type Redis from 'ioredis';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  count: number;
  /** Seconds until the window closes. */
  retryAfter: number;
}

/**
 * Fixed-window counters for the rate limits. In memory for one instance; in
 * Redis (REDIS_URL) so that every instance counts together.
 */
export abstract class RateLimitStore {
  abstract hit(key: string, windowSeconds: number): Promise<WindowCount>;
  abstract peek(key: string): Promise<WindowCount>;
  /** Takes back one hit of the current window (an attempt that reserved a slot and then succeeded). */
  abstract release(key: string): Promise<void>;
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class MemoryRateLimitStore extends RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper = setInterval(() => this.sweep(), 30_000).unref();

  hit(key: string, windowSeconds: number): Promise<WindowCount> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowSeconds * 1000 };
      this.windows.set(key, w);
    }
    w.count++;
    return Promise.resolve({ count: w.count, retryAfter: (w.resetAt - now) / 1000 });
  }

  peek(key: string): Promise<WindowCount> {
    const now = Date.now();
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) return Promise.resolve({ count: 0, retryAfter: 0 });
    return Promise.resolve({ count: w.count, retryAfter: (w.resetAt - now) / 1000 });
  }

  release(key: string): Promise<void> {
    const w = this.windows.get(key);
    if (w && w.resetAt > Date.now() && w.count > 0) w.count--;
    return Promise.resolve();
  }

  override close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

// INCR, and start the window on the first hit; one round trip, atomic.
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

// DECR only a live window, never below zero, keeping its expiry.
const RELEASE = `
if redis.call('PTTL', KEYS[1]) > 0 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
return 0`;

// The count and the time left of a window, in one command.
const PEEK = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;

/** The scripts above as commands of the client: sent by their SHA (EVALSHA), not their text. */
interface RateLimitCommands {
  rateLimitHit(key: string, windowMs: number): Promise<[number, number]>;
  rateLimitRelease(key: string): Promise<number>;
  rateLimitPeek(key: string): Promise<[number, number]>;
}

export class RedisRateLimitStore extends RateLimitStore {
  private readonly commands: RateLimitCommands;

  constructor(
    redis: Redis,
    private readonly prefix = 'dr:rl:',
  ) {
    super();
    redis.defineCommand('rateLimitHit', { numberOfKeys: 1, lua: HIT });
    redis.defineCommand('rateLimitRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('rateLimitPeek', { numberOfKeys: 1, lua: PEEK });
    this.commands = redis as unknown as RateLimitCommands;
  }

  async hit(key: string, windowSeconds: number): Promise<WindowCount> {
    const [count, pttl] = await this.commands.rateLimitHit(this.keyOf(key), windowSeconds * 1000);
    return { count, retryAfter: secondsLeft(pttl) };
  }

  async release(key: string): Promise<void> {
    await this.commands.rateLimitRelease(this.keyOf(key));
  }

  async peek(key: string): Promise<WindowCount> {
    const [count, pttl] = await this.commands.rateLimitPeek(this.keyOf(key));
    return { count, retryAfter: secondsLeft(pttl) };
  }

  /** The Redis key of `key`'s window, for a script that reads it with other keys. */
  keyOf(key: string): string {
    return this.prefix + key;
  }
}

/** Seconds left of a window from its PTTL (negative: no window). */
export function secondsLeft(pttl: number): number {
  return Math.max(pttl, 0) / 1000;
}

/**
 * Clients this instance knows to be over a limit, until their window closes:
 * their requests are refused without asking the store. Windows only grow
 * until they close (a limit that releases hits must not use this), so a
 * remembered refusal is never wrong; any client not remembered here is still
 * asked of the store, which all instances share.
 */
export class KnownLimitedClients {
  private readonly until = new Map<string, number>();

  constructor(private readonly capacity = 10_000) {}

  /** Seconds until `client`'s window closes; 0 when it is not known to be over the limit. */
  retryAfter(client: string): number {
    const until = this.until.get(client);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left > 0) return left / 1000;
    this.until.delete(client);
    return 0;
  }

  remember(client: string, retryAfterSeconds: number): void {
    if (retryAfterSeconds <= 0) return;
    if (this.until.size >= this.capacity && !this.until.has(client)) {
      const now = Date.now();
      for (const [key, until] of this.until) if (until <= now) this.until.delete(key);
      // Still full: the oldest entry goes; that client is then asked of the store again.
      if (this.until.size >= this.capacity) this.until.delete(this.until.keys().next().value!);
    }
    this.until.set(client, Date.now() + retryAfterSeconds * 1000);
  }
}
