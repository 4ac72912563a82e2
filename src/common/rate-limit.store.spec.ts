import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { REDIS_TEST_URL, requireServices } from '../../test/services';
import { KnownLimitedClients, MemoryRateLimitStore, RedisRateLimitStore } from './rate-limit.store';

describe('KnownLimitedClients', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-28T09:00:00.000Z') }));
  afterEach(() => jest.useRealTimers());

  it('answers the time left until the window closes, then forgets the client', () => {
    const known = new KnownLimitedClients();
    expect(known.retryAfter('10.0.0.1')).toBe(0);
    known.remember('10.0.0.1', 30);
    jest.advanceTimersByTime(10_000);
    expect(known.retryAfter('10.0.0.1')).toBe(20);
    expect(known.retryAfter('10.0.0.2')).toBe(0);
    jest.advanceTimersByTime(20_000);
    expect(known.retryAfter('10.0.0.1')).toBe(0);
  });

  it('holds at most its capacity: closed windows go first, then the oldest', () => {
    const known = new KnownLimitedClients(2);
    known.remember('a', 5);
    known.remember('b', 60);
    jest.advanceTimersByTime(6_000);
    known.remember('c', 60); // a's window closed: it makes room
    expect([known.retryAfter('b'), known.retryAfter('c')]).toEqual([54, 60]);
    known.remember('d', 60); // all open: the oldest (b) goes
    expect([known.retryAfter('b'), known.retryAfter('c'), known.retryAfter('d')]).toEqual([
      0, 60, 60,
    ]);
  });
});

describe('MemoryRateLimitStore', () => {
  let store: MemoryRateLimitStore;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-28T09:00:00.000Z') });
    store = new MemoryRateLimitStore();
  });

  afterEach(async () => {
    await store.close();
    jest.useRealTimers();
  });

  it('counts hits within a window and reports the time left in it', async () => {
    expect(await store.hit('k', 60)).toEqual({ count: 1, retryAfter: 60 });
    jest.advanceTimersByTime(15_000);
    expect(await store.hit('k', 60)).toEqual({ count: 2, retryAfter: 45 });
    expect(await store.hit('k', 60)).toEqual({ count: 3, retryAfter: 45 });
  });

  it('keeps keys apart', async () => {
    await store.hit('a', 60);
    await store.hit('a', 60);
    expect((await store.hit('b', 60)).count).toBe(1);
  });

  it('starts a new window once the old one has passed', async () => {
    // 45 s, so the window does not end on one of the 30 s sweeps.
    await store.hit('k', 45);
    await store.hit('k', 45);
    jest.advanceTimersByTime(44_999);
    expect((await store.hit('k', 45)).count).toBe(3);

    jest.advanceTimersByTime(1);
    expect(await store.hit('k', 45)).toEqual({ count: 1, retryAfter: 45 });
  });

  it('peeks without counting', async () => {
    expect(await store.peek('k')).toEqual({ count: 0, retryAfter: 0 });
    await store.hit('k', 60);
    jest.advanceTimersByTime(10_000);

    expect(await store.peek('k')).toEqual({ count: 1, retryAfter: 50 });
    expect(await store.peek('k')).toEqual({ count: 1, retryAfter: 50 });
    expect((await store.hit('k', 60)).count).toBe(2);
  });

  it('gives a hit back on release, never below zero', async () => {
    await store.hit('r', 60);
    await store.hit('r', 60);
    await store.release('r');
    expect((await store.peek('r')).count).toBe(1);
    await store.release('r');
    await store.release('r');
    expect((await store.peek('r')).count).toBe(0);
    await store.release('unknown');
    expect((await store.peek('unknown')).count).toBe(0);
  });

  it('peeks zero once the window has passed', async () => {
    await store.hit('k', 60);
    jest.advanceTimersByTime(60_000);
    expect(await store.peek('k')).toEqual({ count: 0, retryAfter: 0 });
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

requireServices({ redis: REDIS_TEST_URL })('RedisRateLimitStore (real Redis)', () => {
  const prefix = `test:rl:${randomUUID()}:`;
  let redis: Redis;
  let store: RedisRateLimitStore;

  beforeAll(async () => {
    // No endless reconnecting: a Redis that goes away fails the tests, not the exit.
    redis = new Redis(REDIS_TEST_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      retryStrategy: () => null,
    });
    await redis.connect();
    store = new RedisRateLimitStore(redis, prefix);
  });

  afterAll(async () => {
    await redis.del(...['burst', 'window', 'peeked', 'short', 'released'].map((k) => prefix + k));
    await store.close();
    await redis.quit();
  });

  it('gives a hit back on release, keeping the window and never going below zero', async () => {
    await store.hit('released', 60);
    await store.hit('released', 60);
    await store.release('released');
    const after = await store.peek('released');
    expect(after.count).toBe(1);
    expect(after.retryAfter).toBeGreaterThan(55);
    await store.release('released');
    await store.release('released');
    expect((await store.peek('released')).count).toBe(0);
    await store.release('never-hit');
    expect(await redis.exists(prefix + 'never-hit')).toBe(0);
  });

  it('counts atomically under 50 concurrent hits', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.hit('burst', 60)));

    const counts = results.map((r) => r.count).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await store.peek('burst')).toMatchObject({ count: 50 });
  });

  it('reports a retryAfter within the window', async () => {
    const first = await store.hit('window', 60);
    await sleep(50);
    const second = await store.hit('window', 60);

    for (const { retryAfter } of [first, second]) {
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // The window started at the first hit and runs down.
    expect(second.retryAfter).toBeLessThan(first.retryAfter);
    expect(await redis.pttl(`${prefix}window`)).toBeGreaterThan(0);
  });

  it('peeks without counting', async () => {
    expect(await store.peek('peeked')).toEqual({ count: 0, retryAfter: 0 });
    await store.hit('peeked', 60);

    const peeked = await store.peek('peeked');
    expect(peeked.count).toBe(1);
    expect(peeked.retryAfter).toBeGreaterThan(0);
    expect(peeked.retryAfter).toBeLessThanOrEqual(60);
    expect((await store.peek('peeked')).count).toBe(1);
    expect((await store.hit('peeked', 60)).count).toBe(2);
  });

  it('starts a new window once the old one has expired, and a later hit does not extend it', async () => {
    expect((await store.hit('short', 0.5)).count).toBe(1);
    await sleep(300);
    expect((await store.hit('short', 0.5)).count).toBe(2);
    await sleep(300);

    // 600 ms after the first hit: its 500 ms window is over.
    expect((await store.hit('short', 0.5)).count).toBe(1);
  });
});
