import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, getDevice, uniqueName } from './factories/devices';
import { expectError } from './factories/errors';
import { heartbeat, signedRequest } from './factories/signed';
import { registerUser, TestUser } from './factories/users';

const MAX_DEVICES = 3;

/**
 * Invariants that must hold when requests race: the database decides, not a
 * read-then-write in the service.
 */
describe('devices under concurrency (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_DEVICES_PER_USER: String(MAX_DEVICES) } });
  });
  afterAll(() => t.close());

  const register = (user: TestUser, name: string) =>
    request(t.server).post('/api/v1/devices').set(user.auth).send({ name });
  const statuses = (responses: { status: number }[]) =>
    responses.map((r) => r.status).sort((a, b) => a - b);
  const activeDevices = async (userId: string) => {
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId],
    );
    return n as number;
  };

  it('answers 409 device_limit_reached at MAX_DEVICES_PER_USER active devices; revoking frees a slot', async () => {
    const user = await registerUser(t);
    const devices = [];
    for (let i = 0; i < MAX_DEVICES; i++) devices.push(await createDevice(t, user));
    expectError(await register(user, uniqueName()), 409, 'device_limit_reached');

    await request(t.server)
      .post(`/api/v1/devices/${devices[0].id}/revoke`)
      .set(user.auth)
      .expect(204);
    await register(user, uniqueName()).expect(201);
    expectError(await register(user, uniqueName()), 409, 'device_limit_reached');
    expect(await activeDevices(user.id)).toBe(MAX_DEVICES);
  });

  it('lets exactly one of 10 simultaneous registrations take the last slot', async () => {
    const user = await registerUser(t);
    for (let i = 0; i < MAX_DEVICES - 1; i++) await createDevice(t, user);

    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register(user, `racer-${i}`)),
    );

    expect(statuses(responses)).toEqual([201, ...Array(9).fill(409)]);
    for (const res of responses.filter((r) => r.status === 409)) {
      expectError(res, 409, 'device_limit_reached');
    }
    expect(await activeDevices(user.id)).toBe(MAX_DEVICES);
    const winner = responses.find((r) => r.status === 201)!;
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM device_secrets s JOIN devices d ON d.id = s.device_id
       WHERE d.user_id = $1`,
      [user.id],
    );
    expect(n).toBe(MAX_DEVICES);
    expect(await getDevice(t, user, winner.body.id)).toMatchObject({ status: 'active' });
  });

  it('lets exactly one of 8 simultaneous registrations of one name win', async () => {
    const user = await registerUser(t);
    const name = uniqueName('Same');

    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => register(user, i % 2 ? name : name.toUpperCase())),
    );

    expect(statuses(responses)).toEqual([201, ...Array(7).fill(409)]);
    for (const res of responses.filter((r) => r.status === 409)) {
      expectError(res, 409, 'device_name_taken');
    }
    const rows = await t.dataSource.query(`SELECT id FROM devices WHERE user_id = $1`, [user.id]);
    expect(rows).toHaveLength(1);
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM device_events e JOIN devices d ON d.id = e.device_id
       WHERE d.user_id = $1`,
      [user.id],
    );
    expect(n).toBe(1);
  });

  it('lets exactly one of 6 simultaneous renames to one name win', async () => {
    const user = await registerUser(t);
    const devices = [];
    for (let i = 0; i < MAX_DEVICES; i++) devices.push(await createDevice(t, user));
    const name = uniqueName('Target');

    const responses = await Promise.all(
      devices.flatMap((d) =>
        [name, name.toLowerCase()].map((n) =>
          request(t.server).patch(`/api/v1/devices/${d.id}`).set(user.auth).send({ name: n }),
        ),
      ),
    );

    const ok = responses.filter((r) => r.status === 200);
    const holders = new Set(ok.map((r) => r.body.id));
    expect(holders.size).toBe(1);
    for (const res of responses.filter((r) => r.status !== 200)) {
      expectError(res, 409, 'device_name_taken');
    }
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND lower(name) = lower($2)`,
      [user.id, name],
    );
    expect(n).toBe(1);
  });

  it('records one revocation however many revokes race, and keeps the first revokedAt', async () => {
    const user = await registerUser(t);
    const device = await createDevice(t, user);

    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(t.server).post(`/api/v1/devices/${device.id}/revoke`).set(user.auth),
      ),
    );

    expect(statuses(responses)).toEqual(Array(6).fill(204));
    const rows = await t.dataSource.query(
      `SELECT type FROM device_events WHERE device_id = $1 AND type = 'revoked'`,
      [device.id],
    );
    expect(rows).toHaveLength(1);
    const after = await getDevice(t, user, device.id);
    expect(after.status).toBe('revoked');
    const [{ at }] = await t.dataSource.query(
      `SELECT at FROM device_events WHERE device_id = $1 AND type = 'revoked'`,
      [device.id],
    );
    expect(Math.abs(Date.parse(String(after.revokedAt)) - new Date(at).getTime())).toBeLessThan(
      1_000,
    );
  });

  it('leaves a revoked device without secrets when rotations race the revoke', async () => {
    const user = await registerUser(t);
    const device = await createDevice(t, user);
    const rotate = () =>
      request(t.server)
        .post(`/api/v1/devices/${device.id}/rotate-secret`)
        .set(user.auth)
        .send({ graceSeconds: 600 });

    const responses = await Promise.all([
      rotate(),
      rotate(),
      request(t.server).post(`/api/v1/devices/${device.id}/revoke`).set(user.auth),
      rotate(),
      rotate(),
    ]);

    expect(responses[2].status).toBe(204);
    for (const res of [...responses.slice(0, 2), ...responses.slice(3)]) {
      if (res.status !== 200) expectError(res, 409, 'device_revoked');
    }
    const secrets = await t.dataSource.query(`SELECT 1 FROM device_secrets WHERE device_id = $1`, [
      device.id,
    ]);
    expect(secrets).toHaveLength(0);
  });

  it('answers simultaneous reads and writes of different users each with their own data', async () => {
    const owners: { user: TestUser; deviceId: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const user = await registerUser(t);
      owners.push({ user, deviceId: (await createDevice(t, user)).id });
    }

    const rounds = await Promise.all(
      [0, 1, 2].flatMap(() =>
        owners.flatMap(({ user, deviceId }) => [
          request(t.server)
            .get('/api/v1/auth/me')
            .set(user.auth)
            .then((res) => ({ user, deviceId, kind: 'me', res })),
          request(t.server)
            .get('/api/v1/devices')
            .set(user.auth)
            .then((res) => ({ user, deviceId, kind: 'list', res })),
          request(t.server)
            .get(`/api/v1/devices/${deviceId}`)
            .set(user.auth)
            .then((res) => ({ user, deviceId, kind: 'get', res })),
          // Writes in transactions between the reads.
          request(t.server)
            .patch(`/api/v1/devices/${deviceId}`)
            .set(user.auth)
            .send({ name: uniqueName(user.id.slice(0, 8)) })
            .then((res) => ({ user, deviceId, kind: 'rename', res })),
        ]),
      ),
    );

    for (const { user, deviceId, kind, res } of rounds) {
      expect({ kind, status: res.status }).toEqual({ kind, status: 200 });
      if (kind === 'me') expect(res.body.id).toBe(user.id);
      if (kind === 'list')
        expect(res.body.items.map((d: { id: string }) => d.id)).toEqual([deviceId]);
      if (kind === 'get' || kind === 'rename') expect(res.body.id).toBe(deviceId);
      if (kind === 'rename') expect(res.body.name.startsWith(user.id.slice(0, 8))).toBe(true);
    }
  });

  it('keeps one current and at most one previous secret when rotations race', async () => {
    const user = await registerUser(t);
    const device = await createDevice(t, user);

    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(t.server)
          .post(`/api/v1/devices/${device.id}/rotate-secret`)
          .set(user.auth)
          .send({ graceSeconds: 600 }),
      ),
    );

    expect(statuses(responses)).toEqual(Array(6).fill(200));
    expect(new Set(responses.map((r) => r.body.secret)).size).toBe(6);
    const rows: { current: boolean }[] = await t.dataSource.query(
      `SELECT expires_at IS NULL AS current FROM device_secrets WHERE device_id = $1`,
      [device.id],
    );
    expect(rows.filter((r) => r.current)).toHaveLength(1);
    expect(rows.filter((r) => !r.current)).toHaveLength(1);
  });

  it('answers a signed request racing its device deletion 200 or 401 invalid_signature, never 500', async () => {
    const user = await registerUser(t);
    const responses: request.Response[] = [];
    for (let round = 0; round < 8; round++) {
      const devices = [];
      for (let i = 0; i < MAX_DEVICES; i++) devices.push(await createDevice(t, user));
      await Promise.all(
        devices.map(async (d) => {
          let deleted = false;
          const deletion = request(t.server)
            .delete(`/api/v1/devices/${d.id}`)
            .set(user.auth)
            .expect(204)
            .then(() => void (deleted = true));
          // Signed requests keep coming, four at a time, until the deletion
          // is answered: some pass the secret lookup just before it commits.
          const stream = async (i: number) => {
            while (!deleted) responses.push(await signedRequest(t, d, i % 2 ? heartbeat() : {}));
          };
          await Promise.all([deletion, ...[0, 1, 2, 3].map(stream)]);
        }),
      );
    }

    const statusCounts = statuses(responses).reduce<Record<number, number>>(
      (n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }),
      {},
    );
    expect(Object.keys(statusCounts).map(Number)).not.toContain(500);
    for (const res of responses) {
      if ([200, 204].includes(res.status)) continue;
      expectError(res, 401, 'invalid_signature');
    }
  });
});
