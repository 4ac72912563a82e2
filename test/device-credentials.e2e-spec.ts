import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { PreparedStatements } from '../src/database/prepared-statement';
import { DeviceCredentialsRepository } from '../src/device-auth/device-credentials.repository';
import { DeviceKeyCache } from '../src/device-auth/device-key-cache';
import {
  MemoryRateLimitStore,
  type RateLimitStore,
  RedisRateLimitStore,
} from '../src/common/rate-limit.store';
import { NonceStore, PostgresNonceStore, RedisNonceStore } from '../src/device-auth/nonce-store';
import { hmac } from '../src/device-auth/signing';
import { Device } from '../src/devices/device.entity';
import { SecretChanges } from '../src/devices/secret-changes';
import { SecretSealer } from '../src/devices/secret-sealer';
import { createTestApp, SERVER_URL, TestApp } from './app';
import { createDevice, rotateSecret, TestDevice } from './factories/devices';
import { signedRequest } from './factories/signed';
import { registerUser, TestUser } from './factories/users';
import { REDIS_TEST_URL, requireServices } from './services';

const TTL = 600;
/** A client with no failures: admissions are never refused for the limit. */
const NO_FAILURES = { key: 'test-client-without-failures', limit: 50 };
const nonce = () => `n-${randomUUID()}`;
// Asked once, when the suite is collected; absent: skipped with one line (a failure under CI=true).
const withRedis = requireServices({ redis: REDIS_TEST_URL });
const withPostgresServer = requireServices({ postgres: SERVER_URL });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The storage tier of device authentication on the real database, without
 * HTTP: the one statement that checks a secret is live and records the
 * nonce (also with the nonce in Redis), and the cache of unsealed keys.
 * Devices are made through the API, then changed through the API or in SQL
 * behind the service's back, as another instance would.
 */
describe('device credentials', () => {
  let t: TestApp;
  let owner: TestUser;
  let repo: DeviceCredentialsRepository;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await registerUser(t);
    repo = t.app.get(DeviceCredentialsRepository);
  });
  afterAll(() => t?.close());

  const secretIds = async (deviceId: string) =>
    (await repo.findLiveSecrets(deviceId)).map((s) => s.secretId);
  const rotate = (d: TestDevice, graceSeconds = 0) => rotateSecret(t, owner, d, graceSeconds);
  /** Two active devices and a revoked one, each with its live secret's id. */
  const twoDevicesAndARevokedOne = async () => {
    const [a, b, revoked] = [
      await createDevice(t, owner),
      await createDevice(t, owner),
      await createDevice(t, owner),
    ];
    const [[secretOfA], [secretOfB], [secretOfRevoked]] = [
      await secretIds(a.id),
      await secretIds(b.id),
      await secretIds(revoked.id),
    ];
    await t.dataSource.query(`UPDATE devices SET revoked_at = now() WHERE id = $1`, [revoked.id]);
    return { a, b, revoked, secretOfA, secretOfB, secretOfRevoked };
  };
  const nonceRows = async (deviceId: string, n: string) =>
    (
      await t.dataSource.query(
        'SELECT count(*)::int AS n FROM device_nonces WHERE device_id = $1 AND nonce = $2',
        [deviceId, n],
      )
    )[0].n as number;

  describe('findLiveSecrets', () => {
    it('answers the current secret, and the previous one during its grace, current first', async () => {
      const d = await createDevice(t, owner);
      const [first] = await secretIds(d.id);
      await rotate(d, 600);
      const live = await secretIds(d.id);
      expect(live).toHaveLength(2);
      expect(live[1]).toBe(first);
    });

    it('answers nothing for an unknown, a revoked and a deleted device', async () => {
      expect(await repo.findLiveSecrets(randomUUID())).toEqual([]);
      const revoked = await createDevice(t, owner);
      await request(t.server)
        .post(`/api/v1/devices/${revoked.id}/revoke`)
        .set(owner.auth)
        .expect(204);
      expect(await repo.findLiveSecrets(revoked.id)).toEqual([]);
      const deleted = await createDevice(t, owner);
      await request(t.server).delete(`/api/v1/devices/${deleted.id}`).set(owner.auth).expect(204);
      expect(await repo.findLiveSecrets(deleted.id)).toEqual([]);
    });
  });

  describe('the device row', () => {
    // A disabled or expired device is live here: its credential policy is
    // checked on the row answered, after its nonce is burnt.
    it('has every column of the Device entity, as TypeORM itself loads it', async () => {
      const d = await createDevice(t, owner);
      await t.dataSource.query(
        `UPDATE devices SET last_seen_at = now(), disabled_at = now(),
           expires_at = now() - interval '1 second', scopes = '{orders:write,a}',
           allowed_cidrs = '{10.0.0.0/8,2001:db8::/32}'
         WHERE id = $1`,
        [d.id],
      );
      const [secretId] = await secretIds(d.id);
      const admission = await repo.recordNonceIfLive(d.id, secretId, nonce(), TTL);
      const loaded = await t.dataSource.getRepository(Device).findOneByOrFail({ id: d.id });

      expect(admission).toEqual({
        outcome: 'ok',
        device: { ...loaded },
        checkedAt: expect.any(Date),
      });
      const properties = t.dataSource.getMetadata(Device).columns.map((c) => c.propertyName);
      expect(Object.keys(admission.outcome === 'ok' ? admission.device : {}).sort()).toEqual(
        properties.sort(),
      );
      expect(await repo.findLiveDevice(d.id, secretId)).toEqual({
        device: { ...loaded },
        checkedAt: expect.any(Date),
      });
    });
  });

  // The same cases through both stores: PostgreSQL's one statement, and
  // Redis's SET NX beside the liveness check.
  const stores = [
    ['PostgreSQL', false],
    ['Redis', true],
  ] as const;
  for (const [name, useRedis] of stores)
    (useRedis ? withRedis : describe)(`NonceStore.admit, nonces in ${name}`, () => {
      let redis: Redis | undefined;
      let store: NonceStore;
      let limits: RateLimitStore;
      const prefix = `test:nonce:${randomUUID()}:`;

      beforeAll(async () => {
        if (useRedis) {
          redis = new Redis(REDIS_TEST_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
          await redis.connect();
          const redisLimits = new RedisRateLimitStore(redis, `${prefix}rl:`);
          limits = redisLimits;
          store = new RedisNonceStore(redis, repo, redisLimits, prefix);
        } else {
          limits = new MemoryRateLimitStore();
          store = new PostgresNonceStore(repo, limits);
        }
      });
      afterAll(async () => {
        store?.close();
        await limits?.close();
        if (redis) {
          const keys = await redis.keys(`${prefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          await redis.quit();
        }
      });

      const nonceUsed = async (deviceId: string, n: string) =>
        redis
          ? (await redis.exists(`${prefix}${deviceId}:${n}`)) === 1
          : (await nonceRows(deviceId, n)) === 1;

      it('admits a fresh nonce with the device row, and refuses it the second time', async () => {
        const d = await createDevice(t, owner);
        const [secretId] = await secretIds(d.id);
        const n = nonce();

        const first = await store.admit(d.id, secretId, n, TTL, NO_FAILURES);
        expect(first).toMatchObject({ outcome: 'ok', device: { id: d.id, name: d.name } });
        expect(await nonceUsed(d.id, n)).toBe(true);
        expect(await store.admit(d.id, secretId, n, TTL, NO_FAILURES)).toEqual({
          outcome: 'replayed',
        });
      });

      it('refuses a client whose failure window is full without using the nonce, then admits it once the window is gone', async () => {
        const d = await createDevice(t, owner);
        const [secretId] = await secretIds(d.id);
        const n = nonce();
        const failures = { key: `test-client-${randomUUID()}`, limit: 3 };
        for (let i = 0; i < 3; i++) await limits.hit(failures.key, 60);

        const refused = await store.admit(d.id, secretId, n, TTL, failures);
        expect(refused).toEqual({ outcome: 'limited', retryAfter: expect.any(Number) });
        if (refused.outcome === 'limited') {
          expect(refused.retryAfter).toBeGreaterThan(55);
          expect(refused.retryAfter).toBeLessThanOrEqual(60);
        }
        expect(await nonceUsed(d.id, n)).toBe(false);
        // Under the limit (one fewer failure), the same request is admitted.
        expect((await store.admit(d.id, secretId, n, TTL, { ...failures, limit: 4 })).outcome).toBe(
          'ok',
        );
      });

      it('keeps nonces per device', async () => {
        const [a, b] = [await createDevice(t, owner), await createDevice(t, owner)];
        const n = nonce();
        expect(
          (await store.admit(a.id, (await secretIds(a.id))[0], n, TTL, NO_FAILURES)).outcome,
        ).toBe('ok');
        expect(
          (await store.admit(b.id, (await secretIds(b.id))[0], n, TTL, NO_FAILURES)).outcome,
        ).toBe('ok');
      });

      it('lets one nonce sent many times at once pass exactly once', async () => {
        const d = await createDevice(t, owner);
        const [secretId] = await secretIds(d.id);
        const n = nonce();
        const outcomes = await Promise.all(
          Array.from({ length: 8 }, () => store.admit(d.id, secretId, n, TTL, NO_FAILURES)),
        );
        expect(outcomes.map((o) => o.outcome).sort()).toEqual([
          'ok',
          ...Array<string>(7).fill('replayed'),
        ]);
      });

      it('refuses a revoked device as not live, and does not use its nonce up', async () => {
        const d = await createDevice(t, owner);
        const [secretId] = await secretIds(d.id);
        // Revoked behind the service's back: its secret rows are still there.
        await t.dataSource.query(`UPDATE devices SET revoked_at = now() WHERE id = $1`, [d.id]);
        const n = nonce();
        expect(await store.admit(d.id, secretId, n, TTL, NO_FAILURES)).toEqual({
          outcome: 'not_live',
        });
        expect(await nonceUsed(d.id, n)).toBe(false);
      });

      it('refuses a secret rotated away without grace, and admits the new one', async () => {
        const d = await createDevice(t, owner);
        const [old] = await secretIds(d.id);
        await rotate(d, 0);
        const [current] = await secretIds(d.id);
        const n = nonce();
        expect(await store.admit(d.id, old, n, TTL, NO_FAILURES)).toEqual({ outcome: 'not_live' });
        expect(await nonceUsed(d.id, n)).toBe(false);
        expect((await store.admit(d.id, current, n, TTL, NO_FAILURES)).outcome).toBe('ok');
      });

      it('admits the previous secret within its grace, and refuses it once expired', async () => {
        const d = await createDevice(t, owner);
        const [previous] = await secretIds(d.id);
        await rotate(d, 600);
        expect((await store.admit(d.id, previous, nonce(), TTL, NO_FAILURES)).outcome).toBe('ok');
        await t.dataSource.query(
          `UPDATE device_secrets SET expires_at = now() - interval '1 second' WHERE id = $1`,
          [previous],
        );
        expect(await store.admit(d.id, previous, nonce(), TTL, NO_FAILURES)).toEqual({
          outcome: 'not_live',
        });
      });

      it("refuses another device's secret id", async () => {
        const [a, b] = [await createDevice(t, owner), await createDevice(t, owner)];
        const [secretOfB] = await secretIds(b.id);
        expect(await store.admit(a.id, secretOfB, nonce(), TTL, NO_FAILURES)).toEqual({
          outcome: 'not_live',
        });
      });

      it('refuses a deleted and an unknown device as not live', async () => {
        const d = await createDevice(t, owner);
        const [secretId] = await secretIds(d.id);
        await t.dataSource.query('DELETE FROM devices WHERE id = $1', [d.id]);
        expect(await store.admit(d.id, secretId, nonce(), TTL, NO_FAILURES)).toEqual({
          outcome: 'not_live',
        });
        expect(await store.admit(randomUUID(), randomUUID(), nonce(), TTL, NO_FAILURES)).toEqual({
          outcome: 'not_live',
        });
      });

      if (useRedis)
        it('answers each request of a batch on its own, in fewer Redis calls than requests', async () => {
          const { a, b, revoked, secretOfA, secretOfB, secretOfRevoked } =
            await twoDevicesAndARevokedOne();
          const limited = { key: `test-client-${randomUUID()}`, limit: 2 };
          for (let i = 0; i < 2; i++) await limits.hit(limited.key, 60);
          const [twice, once, ofRevoked, ofLimited] = [nonce(), nonce(), nonce(), nonce()];
          const calls = jest.spyOn(
            redis as unknown as { admitNonces: () => unknown },
            'admitNonces',
          );
          try {
            // Made in one turn of the event loop, as concurrent requests are.
            const outcomes = await Promise.all([
              store.admit(a.id, secretOfA, twice, TTL, NO_FAILURES),
              store.admit(a.id, secretOfA, twice, TTL, NO_FAILURES),
              store.admit(b.id, secretOfB, once, TTL, NO_FAILURES),
              store.admit(revoked.id, secretOfRevoked, ofRevoked, TTL, NO_FAILURES),
              store.admit(b.id, secretOfB, ofLimited, TTL, limited),
            ]);
            const [first, second, ...rest] = outcomes;
            expect([first.outcome, second.outcome].sort()).toEqual(['ok', 'replayed']);
            expect(rest.map((o) => o.outcome)).toEqual(['ok', 'not_live', 'limited']);
            expect(outcomes[2]).toMatchObject({ device: { id: b.id, name: b.name } });
            expect(calls.mock.calls.length).toBeLessThan(outcomes.length);
          } finally {
            calls.mockRestore();
          }
          expect(await nonceUsed(a.id, twice)).toBe(true);
          expect(await nonceUsed(b.id, once)).toBe(true);
          // Not live: given back; over the limit: never set.
          expect(await nonceUsed(revoked.id, ofRevoked)).toBe(false);
          expect(await nonceUsed(b.id, ofLimited)).toBe(false);
        });

      it('never throws while the device is deleted under concurrent requests', async () => {
        for (let round = 0; round < 10; round++) {
          const d = await createDevice(t, owner);
          const [secretId] = await secretIds(d.id);
          const admissions = Array.from({ length: 6 }, () =>
            store.admit(d.id, secretId, nonce(), TTL, NO_FAILURES),
          );
          const deletion = t.dataSource.query('DELETE FROM devices WHERE id = $1', [d.id]);
          const outcomes = await Promise.all(admissions);
          await deletion;
          for (const o of outcomes) expect(['ok', 'not_live']).toContain(o.outcome);
          expect((await store.admit(d.id, secretId, nonce(), TTL, NO_FAILURES)).outcome).toBe(
            'not_live',
          );
        }
      });
    });

  describe('PostgreSQL nonces', () => {
    const store = () => new PostgresNonceStore(repo, new MemoryRateLimitStore());

    it('takes over an expired nonce that the purge has not removed yet', async () => {
      const d = await createDevice(t, owner);
      const [secretId] = await secretIds(d.id);
      const n = nonce();
      const s = store();
      try {
        expect((await s.admit(d.id, secretId, n, TTL, NO_FAILURES)).outcome).toBe('ok');
        await t.dataSource.query(
          `UPDATE device_nonces SET expires_at = now() - interval '1 second'
           WHERE device_id = $1 AND nonce = $2`,
          [d.id, n],
        );
        expect((await s.admit(d.id, secretId, n, TTL, NO_FAILURES)).outcome).toBe('ok');
        expect(await s.admit(d.id, secretId, n, TTL, NO_FAILURES)).toEqual({ outcome: 'replayed' });
      } finally {
        s.close();
      }
    });

    it('answers not live, not an error, when the device is deleted while its nonce is inserted', async () => {
      const d = await createDevice(t, owner);
      const [secretId] = await secretIds(d.id);
      // The deletion holds the device row until it commits: the statement
      // sees the device live, then its foreign-key check waits for the
      // deletion and fails (23503) once it commits.
      // (On PGlite, with its one connection, the statement waits for the
      // connection instead, and then finds the device gone.)
      const deleter = t.dataSource.createQueryRunner();
      let admission: Promise<unknown>;
      try {
        await deleter.startTransaction();
        await deleter.query('DELETE FROM devices WHERE id = $1', [d.id]);
        admission = repo.recordNonceIfLive(d.id, secretId, nonce(), TTL);
        await sleep(200);
        await deleter.commitTransaction();
      } finally {
        await deleter.release();
      }
      expect(await admission).toEqual({ outcome: 'not_live' });
    });

    it('answers each request of a batch on its own, in fewer statements than requests', async () => {
      const { a, b, revoked, secretOfA, secretOfB, secretOfRevoked } =
        await twoDevicesAndARevokedOne();
      const [twice, once, ofRevoked, mixed] = [nonce(), nonce(), nonce(), nonce()];
      const statements = jest.spyOn(PreparedStatements.prototype, 'run');
      try {
        // Made in one turn of the event loop, as concurrent requests are.
        const outcomes = await Promise.all([
          repo.recordNonceIfLive(a.id, secretOfA, twice, TTL),
          repo.recordNonceIfLive(a.id, secretOfA, twice, TTL),
          repo.recordNonceIfLive(b.id, secretOfB, once, TTL),
          repo.recordNonceIfLive(revoked.id, secretOfRevoked, ofRevoked, TTL),
          repo.recordNonceIfLive(a.id, secretOfB, mixed, TTL),
          repo.recordNonceIfLive(randomUUID(), randomUUID(), nonce(), TTL),
        ]);
        // The two with one nonce race (they never share a batch): exactly one wins.
        const [first, second, ...rest] = outcomes;
        expect([first.outcome, second.outcome].sort()).toEqual(['ok', 'replayed']);
        expect(rest.map((o) => o.outcome)).toEqual(['ok', 'not_live', 'not_live', 'not_live']);
        expect(first.outcome === 'ok' ? first : second).toMatchObject({
          device: { id: a.id, name: a.name },
        });
        expect(outcomes[2]).toMatchObject({ device: { id: b.id, name: b.name } });
        expect(statements.mock.calls.length).toBeLessThan(outcomes.length);
      } finally {
        statements.mockRestore();
      }
      expect(await nonceRows(a.id, twice)).toBe(1);
      expect(await nonceRows(b.id, once)).toBe(1);
      expect(await nonceRows(revoked.id, ofRevoked)).toBe(0);
      expect(await nonceRows(a.id, mixed)).toBe(0);
    });

    it('admits the rest of a batch when one of its devices is deleted while it runs', async () => {
      const [kept, deleted] = [await createDevice(t, owner), await createDevice(t, owner)];
      const [[secretOfKept], [secretOfDeleted]] = [
        await secretIds(kept.id),
        await secretIds(deleted.id),
      ];
      const deleter = t.dataSource.createQueryRunner();
      let admissions: Promise<unknown[]>;
      try {
        await deleter.startTransaction();
        await deleter.query('DELETE FROM devices WHERE id = $1', [deleted.id]);
        admissions = Promise.all([
          repo.recordNonceIfLive(kept.id, secretOfKept, nonce(), TTL),
          repo.recordNonceIfLive(deleted.id, secretOfDeleted, nonce(), TTL),
        ]);
        await sleep(200);
        await deleter.commitTransaction();
      } finally {
        await deleter.release();
      }
      expect(await admissions).toEqual([
        {
          outcome: 'ok',
          device: expect.objectContaining({ id: kept.id }),
          checkedAt: expect.any(Date),
        },
        { outcome: 'not_live' },
      ]);
    });

    it('purges expired nonces only', async () => {
      const d = await createDevice(t, owner);
      const [secretId] = await secretIds(d.id);
      const [kept, expired] = [nonce(), nonce()];
      await repo.recordNonceIfLive(d.id, secretId, kept, TTL);
      await repo.recordNonceIfLive(d.id, secretId, expired, TTL);
      await t.dataSource.query(
        `UPDATE device_nonces SET expires_at = now() - interval '1 second' WHERE nonce = $1`,
        [expired],
      );
      expect(await repo.purgeNonces()).toBeGreaterThanOrEqual(1);
      expect(await nonceRows(d.id, kept)).toBe(1);
      expect(await nonceRows(d.id, expired)).toBe(0);
    });
  });

  describe('markSeen', () => {
    const lastSeenAt = async (id: string) =>
      (await t.dataSource.getRepository(Device).findOneByOrFail({ id })).lastSeenAt;

    it('writes the marks of many devices at once, and never moves one backwards', async () => {
      const [a, b] = [await createDevice(t, owner), await createDevice(t, owner)];
      const earlier = new Date('2026-01-01T00:00:00.000Z');
      const later = new Date('2026-01-02T00:00:00.000Z');
      // An unknown device (deleted meanwhile) is no error.
      await repo.markSeen([a.id, b.id, randomUUID()], [later, earlier, later]);
      expect(await lastSeenAt(a.id)).toEqual(later);
      expect(await lastSeenAt(b.id)).toEqual(earlier);

      await repo.markSeen([a.id, b.id], [earlier, later]);
      expect(await lastSeenAt(a.id)).toEqual(later);
      expect(await lastSeenAt(b.id)).toEqual(later);
    });
  });

  describe('DeviceKeyCache', () => {
    const canonical = 'GET\n/x\n1\nnonce\nid\nbody';
    /** A check that passes for the key of `secret` only. */
    const signedWith = (secret: string) => {
      const expected = hmac(secret, canonical);
      return (key: Parameters<typeof hmac>[0]) => hmac(key, canonical).equals(expected);
    };
    let lookups: jest.SpyInstance;
    const newCache = (options = {}) =>
      new DeviceKeyCache(repo, t.app.get(SecretSealer), undefined, options);

    beforeEach(() => {
      lookups = jest.spyOn(repo, 'findLiveSecrets');
    });
    afterEach(() => jest.restoreAllMocks());

    it('finds the secret that verifies with one lookup, then from memory', async () => {
      const cache = newCache();
      const d = await createDevice(t, owner);
      const [secretId] = await secretIds(d.id);
      lookups.mockClear();

      expect(await cache.find(d.id, signedWith(d.secret))).toBe(secretId);
      expect(await cache.find(d.id.toUpperCase(), signedWith(d.secret))).toBe(secretId);
      expect(lookups).toHaveBeenCalledTimes(1);
    });

    it('shares one lookup between concurrent misses of a device', async () => {
      const cache = newCache();
      const d = await createDevice(t, owner);
      lookups.mockClear();
      const found = await Promise.all(
        Array.from({ length: 5 }, () => cache.find(d.id, signedWith(d.secret))),
      );
      expect(new Set(found).size).toBe(1);
      expect(found[0]).not.toBeNull();
      expect(lookups).toHaveBeenCalledTimes(1);
    });

    it('looks up once more when no held key verifies, and holds the new keys', async () => {
      const cache = newCache();
      const d = await createDevice(t, owner);
      await cache.find(d.id, signedWith(d.secret));
      const rotated = await rotate(d, 0); // this cache is not told
      lookups.mockClear();

      const [newId] = await secretIds(d.id);
      lookups.mockClear();
      expect(await cache.find(d.id, signedWith(rotated.secret))).toBe(newId);
      expect(await cache.find(d.id, signedWith(rotated.secret))).toBe(newId);
      expect(lookups).toHaveBeenCalledTimes(1);
      expect(await cache.find(d.id, signedWith(d.secret))).toBeNull();
      expect(lookups).toHaveBeenCalledTimes(2);
    });

    it('does not hold unknown devices', async () => {
      const cache = newCache();
      const id = randomUUID();
      expect(await cache.find(id, signedWith('dvs_x'))).toBeNull();
      expect(await cache.find(id, signedWith('dvs_x'))).toBeNull();
      expect(cache.size).toBe(0);
      expect(lookups).toHaveBeenCalledTimes(2);
    });

    it('tries a placeholder key for a device without keys, so that path does the same work', async () => {
      const cache = newCache();
      const verifies = jest.fn(() => false);
      expect(await cache.find(randomUUID(), verifies)).toBeNull();
      expect(verifies).toHaveBeenCalledTimes(1);
    });

    it('drops the least recently used device past its capacity', async () => {
      const cache = newCache({ capacity: 2 });
      const [a, b, c] = [
        await createDevice(t, owner),
        await createDevice(t, owner),
        await createDevice(t, owner),
      ];
      await cache.find(a.id, signedWith(a.secret));
      await cache.find(b.id, signedWith(b.secret));
      await cache.find(a.id, signedWith(a.secret)); // a is now the most recent
      await cache.find(c.id, signedWith(c.secret)); // b goes
      expect(cache.size).toBe(2);
      lookups.mockClear();

      await cache.find(a.id, signedWith(a.secret));
      await cache.find(c.id, signedWith(c.secret));
      expect(lookups).not.toHaveBeenCalled();
      await cache.find(b.id, signedWith(b.secret));
      expect(lookups).toHaveBeenCalledWith(b.id);
    });

    it('looks the keys up again once they are older than the maximum age', async () => {
      let now = 0;
      const cache = newCache({ maxAgeMs: 1_000, now: () => now });
      const d = await createDevice(t, owner);
      await cache.find(d.id, signedWith(d.secret));
      now = 999;
      await cache.find(d.id, signedWith(d.secret));
      expect(lookups).toHaveBeenCalledTimes(1);
      now = 1_000;
      await cache.find(d.id, signedWith(d.secret));
      expect(lookups).toHaveBeenCalledTimes(2);
    });

    it("drops a device's keys when this instance rotates, revokes or deletes it", async () => {
      const cache = t.app.get(DeviceKeyCache);
      const held = async (d: Pick<TestDevice, 'id' | 'secret'>) => {
        lookups.mockClear();
        await cache.find(d.id, signedWith(d.secret));
        return lookups.mock.calls.length === 0;
      };
      const d = await createDevice(t, owner);
      await cache.find(d.id, signedWith(d.secret));
      expect(await held(d)).toBe(true);

      const rotated = await rotate(d, 600);
      expect(await held(d)).toBe(false);
      await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
      expect(await held(rotated)).toBe(false);

      const e = await createDevice(t, owner);
      await cache.find(e.id, signedWith(e.secret));
      await request(t.server).delete(`/api/v1/devices/${e.id}`).set(owner.auth).expect(204);
      expect(await held(e)).toBe(false);
    });
  });

  withPostgresServer('PreparedStatements', () => {
    it('sends a statement unnamed once the session does not know the names it prepared', async () => {
      // One connection, so that DEALLOCATE reaches the one that prepared it,
      // as a transaction-mode pooler or PGlite's shared session would.
      const pool = new Pool({ connectionString: t.databaseUrl, max: 1 });
      const statements = new PreparedStatements({
        isInitialized: true,
        driver: { master: pool },
      } as unknown as DataSource);
      const statement = { name: 'test_prepared_one', text: 'SELECT $1::int + 1 AS n' };
      try {
        expect(await statements.run(statement, [1])).toEqual([{ n: 2 }]);
        await pool.query('DEALLOCATE ALL');
        expect(await statements.run(statement, [2])).toEqual([{ n: 3 }]);
        expect(await statements.run(statement, [3])).toEqual([{ n: 4 }]);
      } finally {
        await pool.end();
      }
    });
  });
});

/**
 * Through HTTP, with the device's keys already in the cache, and this
 * instance's own notice of the change switched off: what another instance
 * sees. The database alone must refuse the next request.
 */
describe('device authentication with a warm key cache', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await registerUser(t);
  });
  beforeEach(() => {
    jest.spyOn(t.app.get(SecretChanges), 'changed').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => t?.close());

  const warm = async () => {
    const d = await createDevice(t, owner);
    await signedRequest(t, d).expect(200);
    await signedRequest(t, d).expect(200);
    return d;
  };
  const refused = async (d: Pick<TestDevice, 'id' | 'secret'>) => {
    const res = await signedRequest(t, d).expect(401);
    expect(res.body.code).toBe('invalid_signature');
  };

  it('refuses the very next request after a revocation', async () => {
    const d = await warm();
    await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
    await refused(d);
  });

  it('refuses the very next request after a deletion', async () => {
    const d = await warm();
    await request(t.server).delete(`/api/v1/devices/${d.id}`).set(owner.auth).expect(204);
    await refused(d);
  });

  it('refuses the old secret at once after a rotation without grace, and takes the new one', async () => {
    const d = await warm();
    const rotated = await rotateSecret(t, owner, d, 0);
    await refused(d);
    await signedRequest(t, rotated).expect(200);
    await refused(d);
  });

  it('refuses the previous secret as soon as its grace is over', async () => {
    const d = await warm();
    const rotated = await rotateSecret(t, owner, d, 600);
    await signedRequest(t, d).expect(200);
    await signedRequest(t, rotated).expect(200);
    await t.dataSource.query(
      `UPDATE device_secrets SET expires_at = now() - interval '1 second'
       WHERE device_id = $1 AND expires_at IS NOT NULL`,
      [d.id],
    );
    await refused(d);
    await signedRequest(t, rotated).expect(200);
  });

  it('does not use up the nonce of a request refused for a dead secret', async () => {
    const d = await warm();
    const rotated = await rotateSecret(t, owner, d, 0);
    const n = nonce();
    await signedRequest(t, d, { nonce: n }).expect(401);
    await signedRequest(t, rotated, { nonce: n }).expect(200);
  });
});
