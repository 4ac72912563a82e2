import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, SECRET_PATTERN } from './factories/devices';
import { clientIp, login, newCredentials, registerUser, TestUser } from './factories/users';

/**
 * After a realistic flow, no secret material may be found in what the service
 * logged or stored: not a device secret (with or without its `dvs_` prefix, as
 * text, hex or raw bytes), not a password, not a password hash in the logs.
 */
describe('secret material at rest and in logs (e2e)', () => {
  let t: TestApp;
  const secrets: string[] = [];
  const passwords: string[] = [];
  const users: TestUser[] = [];

  beforeAll(async () => {
    t = await createTestApp({ env: { LOG_LEVEL: 'trace' } });

    for (let i = 0; i < 2; i++) {
      const user = await registerUser(t);
      users.push(user);
      passwords.push(user.password);
    }
    const [alice, bob] = users;

    // Failed and refused attempts carry passwords too.
    const wrong = `Wrong-${newCredentials().password}`;
    passwords.push(wrong);
    await login(t, { email: alice.email, password: wrong }).expect(401);
    const refused = newCredentials();
    passwords.push(refused.password);
    await login(t, refused).expect(401);
    await request(t.server)
      .post('/api/v1/auth/register')
      .set('X-Forwarded-For', clientIp())
      .send({ email: 'not-an-email', password: refused.password })
      .expect(400);
    await request(t.server)
      .post('/api/v1/auth/register')
      .set('X-Forwarded-For', clientIp())
      .set('Content-Type', 'application/json')
      .send(`{"email":"${refused.email}","password":"${refused.password}"`)
      .expect(400);

    for (const owner of [alice, bob]) {
      for (let i = 0; i < 2; i++) {
        const device = await createDevice(t, owner);
        secrets.push(device.secret);
        for (const graceSeconds of [3600, 0, 600]) {
          const res = await request(t.server)
            .post(`/api/v1/devices/${device.id}/rotate-secret`)
            .set(owner.auth)
            .send({ graceSeconds })
            .expect(200);
          secrets.push(res.body.secret);
        }
        await request(t.server)
          .patch(`/api/v1/devices/${device.id}`)
          .set(owner.auth)
          .send({ name: `${device.name}-renamed` })
          .expect(200);
      }
    }
    const revoked = await createDevice(t, alice);
    secrets.push(revoked.secret);
    await request(t.server)
      .post(`/api/v1/devices/${revoked.id}/revoke`)
      .set(alice.auth)
      .expect(204);
    // A failed attempt to register a secret as a device name.
    await request(t.server)
      .post('/api/v1/devices')
      .set(alice.auth)
      .send({ name: 'x', secret: secrets[0] })
      .expect(400);
    await request(t.server).get('/api/v1/devices').set(alice.auth).expect(200);
  });
  afterAll(() => t.close());

  /** Every way a secret could be written down. */
  const forms = (secret: string) => {
    const body = secret.slice(4);
    const bytes = Buffer.from(body, 'base64url');
    return [secret, body, Buffer.from(secret).toString('hex'), bytes.toString('hex')];
  };

  it('the flow produced distinct, well-formed secrets', () => {
    expect(secrets).toHaveLength(2 * 2 * 4 + 1);
    expect(new Set(secrets).size).toBe(secrets.length);
    for (const s of secrets) expect(s).toMatch(SECRET_PATTERN);
  });

  it('logs no device secret, no password and no password hash', async () => {
    const logs = t.logs.join('\n');
    // The capture works: the requests above were logged.
    expect(t.logs.length).toBeGreaterThan(20);
    expect(logs).toContain('/api/v1/devices');
    expect(logs).toContain('/api/v1/auth/login');

    const hashes: { password_hash: string }[] = await t.dataSource.query(
      `SELECT password_hash FROM users`,
    );
    expect(hashes.length).toBeGreaterThanOrEqual(2);
    for (const secret of secrets)
      for (const form of forms(secret)) expect(logs).not.toContain(form);
    for (const password of passwords) expect(logs).not.toContain(password);
    for (const { password_hash } of hashes) {
      expect(logs).not.toContain(password_hash);
      // The digest part alone, without the PHC parameters.
      expect(logs).not.toContain(password_hash.split('$').pop());
    }
    for (const user of users) expect(logs).not.toContain(user.token);
  });

  it('logs each request by method, URL and status only', () => {
    const requests = t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.req);
    const loginLine = requests.find((entry) => entry.req.url === '/api/v1/auth/login');
    expect(loginLine).toMatchObject({
      req: { method: 'POST' },
      res: { statusCode: expect.any(Number) },
    });
    expect(Object.keys(loginLine.req).sort()).toEqual(['method', 'url']);
    expect(loginLine.reqId).toEqual(expect.any(String));
    expect(Object.keys(loginLine.res)).toEqual(['statusCode']);
    expect(t.logs.join('\n')).not.toMatch(/authorization|x-signature/i);
  });

  it('stores no device secret and no password in any table', async () => {
    const named = ['users', 'devices', 'device_secrets', 'device_events'];
    const tables: { tablename: string }[] = await t.dataSource.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`,
    );
    const all = [...new Set([...named, ...tables.map((r) => r.tablename)])];
    expect(all).toEqual(expect.arrayContaining(named));

    let dump = '';
    for (const table of all) {
      const rows: { row: unknown }[] = await t.dataSource.query(
        `SELECT row_to_json(x) AS row FROM "${table}" x`,
      );
      dump += rows.map((r) => JSON.stringify(r.row)).join('\n') + '\n';
    }
    // The dump holds the data: the users, the sealed secrets and the events.
    for (const user of users) expect(dump).toContain(user.id);
    expect(dump).toContain('"sealed":"\\\\x');
    expect(dump).toContain('secret_rotated');

    for (const secret of secrets)
      for (const form of forms(secret)) expect(dump).not.toContain(form);
    for (const password of passwords) expect(dump).not.toContain(password);
  });

  it('seals secrets: device_secrets.sealed holds neither the secret nor its bytes', async () => {
    const rows: { sealed: Buffer }[] = await t.dataSource.query(
      `SELECT sealed FROM device_secrets`,
    );
    // 4 devices with a current and a previous secret; the revoked device has none.
    expect(rows).toHaveLength(8);
    for (const { sealed } of rows) {
      expect(Buffer.isBuffer(sealed)).toBe(true);
      for (const secret of secrets) {
        const body = secret.slice(4);
        expect(sealed.includes(Buffer.from(secret))).toBe(false);
        expect(sealed.includes(Buffer.from(body))).toBe(false);
        expect(sealed.includes(Buffer.from(body, 'base64url'))).toBe(false);
      }
    }
  });
});
