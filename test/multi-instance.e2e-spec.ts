import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, SERVER_URL, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { signedRequest } from './factories/signed';
import { clientIp, registerUser, TestUser } from './factories/users';
import { REDIS_TEST_URL, requireServices } from './services';

/**
 * Two instances of the service on one database: replay protection and
 * revocation hold across them, with the nonces in PostgreSQL and in Redis.
 * They need a PostgreSQL server: an embedded PGlite has a single session,
 * which two instances' connections would share.
 */
const withPostgres = requireServices({ postgres: SERVER_URL });
withPostgres('two instances, nonces in PostgreSQL', () => twoInstances(undefined));
// Redis is asked only once PostgreSQL is there: one skip line says what is missing first.
const withRedis =
  withPostgres === describe ? requireServices({ redis: REDIS_TEST_URL }) : withPostgres;
withRedis('two instances, nonces in Redis', () => twoInstances(REDIS_TEST_URL));

function twoInstances(redisUrl: string | undefined): void {
  let a: TestApp;
  let b: TestApp;
  let owner: TestUser;
  let device: TestDevice;

  beforeAll(async () => {
    a = await createTestApp({ env: { REDIS_URL: redisUrl } });
    b = await createTestApp({ databaseUrl: a.databaseUrl, env: { REDIS_URL: redisUrl } });
    owner = await registerUser(a);
    device = await createDevice(a, owner);
  });
  let stoppedB = false;
  afterAll(async () => {
    if (!stoppedB) await b?.close();
    await a?.close();
  });

  it('authenticates a device on both instances', async () => {
    await signedRequest(a, device).expect(200);
    await signedRequest(b, device).expect(200);
  });

  it('refuses on B a nonce used on A', async () => {
    const nonce = `multi-${randomUUID()}`;
    await signedRequest(a, device, { nonce }).expect(200);
    const res = await signedRequest(b, device, { nonce }).expect(401);
    expect(res.body.code).toBe('nonce_replayed');
  });

  it('lets one nonce sent to both at once pass exactly once', async () => {
    for (let round = 0; round < 5; round++) {
      const nonce = `both-${randomUUID()}`;
      const results = await Promise.all([
        signedRequest(a, device, { nonce }),
        signedRequest(b, device, { nonce }),
        signedRequest(a, device, { nonce }),
        signedRequest(b, device, { nonce }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
    }
  });

  it('refuses on B the next request of a device revoked on A', async () => {
    const d = await createDevice(a, owner);
    await signedRequest(b, d).expect(200);
    await request(a.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
    const res = await signedRequest(b, d).expect(401);
    expect(res.body.code).toBe('invalid_signature');
  });

  it('refuses on B the old secret right after a rotation on A', async () => {
    const d = await createDevice(a, owner);
    const rotated = await request(a.server)
      .post(`/api/v1/devices/${d.id}/rotate-secret`)
      .set(owner.auth)
      .expect(200);
    await signedRequest(b, d).expect(401);
    await signedRequest(b, { id: d.id, secret: rotated.body.secret }).expect(200);
  });

  it('shares the failed-request limit across instances only through Redis', async () => {
    const d = await createDevice(a, owner);
    const ip = clientIp();
    for (let i = 0; i < 25; i++) await signedRequest(a, d, { secret: 'dvs_wrong', ip }).expect(401);
    for (let i = 0; i < 25; i++) await signedRequest(b, d, { secret: 'dvs_wrong', ip }).expect(401);
    const next = await signedRequest(b, d, { ip });
    expect(next.status).toBe(redisUrl ? 429 : 200);
  });

  // Last: it stops B. (Passport keeps one 'jwt' strategy per process, the last
  // instance's, so no request may follow on A either.)
  it('writes pending lastSeenAt marks when an instance shuts down', async () => {
    const d = await createDevice(a, owner);
    await signedRequest(b, d).expect(200);
    await b.close(); // well within the flush interval
    stoppedB = true;
    const [row] = await a.dataSource.query('SELECT last_seen_at FROM devices WHERE id = $1', [
      d.id,
    ]);
    expect(row.last_seen_at).toBeInstanceOf(Date);
  });
}
