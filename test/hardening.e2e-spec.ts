import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, uniqueName } from './factories/devices';
import { expectError } from './factories/errors';
import { clientIp, login, newCredentials, registerUser, TestUser } from './factories/users';
import { appWithUser } from './support/suite-app';

// Defects of the adversarial review (issue "Hardening"), each through HTTP on
// the real database.

/** `depth` nested arrays around `inner`: `[[[…]]]`. */
const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('hardening (e2e)', () => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => ({ t, user } = await appWithUser()));
  afterAll(() => t.close());

  const post = (path: string, body: string, auth?: TestUser, ip = clientIp()) => {
    const req = request(t.server)
      .post(path)
      .set('Content-Type', 'application/json')
      .set('X-Forwarded-For', ip);
    if (auth) req.set(auth.auth);
    return req.send(body);
  };
  const patch = (path: string, body: string, auth: TestUser) =>
    request(t.server)
      .patch(path)
      .set('Content-Type', 'application/json')
      .set(auth.auth)
      .set('X-Forwarded-For', clientIp())
      .send(body);

  describe('TRUST_PROXY=1: the client IP is the right-most X-Forwarded-For entry', () => {
    it('does not let left-most entries the client wrote escape the login limit', async () => {
      const ip = clientIp();
      const email = newCredentials().email;
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await login(
          t,
          { email, password: `wrong-password-${i}` },
          `203.0.113.${i}, ${ip}`,
        );
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
    });

    it('does not let left-most entries escape the registration limit', async () => {
      const ip = clientIp();
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const res = await request(t.server)
          .post('/api/v1/auth/register')
          .set('X-Forwarded-For', `198.51.100.${i}, ${ip}`)
          .send({ email: newCredentials().email, password: 'Hardly-Guessable-1' });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 20)).toEqual(Array(20).fill(201));
      expect(statuses[20]).toBe(429);
    });
  });

  describe('deep JSON', () => {
    const deep = (field: string) => `{${field},"x":${nested(2000)}}`;

    it('is 400 validation_failed at parse time on login, register and create, never a 500', async () => {
      const login = `{"email":"a@b.co","password":${nested(2000)}}`;
      expectError(await post('/api/v1/auth/login', login), 400, 'validation_failed');
      expectError(await post('/api/v1/auth/register', login), 400, 'validation_failed');
      expectError(
        await post('/api/v1/devices', deep('"name":"n"'), user),
        400,
        'validation_failed',
      );
      const res = await post('/api/v1/auth/login', `{"password":${nested(33)}}`);
      expectError(res, 400, 'validation_failed');
      expect(res.body.message).toMatch(/deeper than 32 levels/);
    });

    it('counts brackets inside strings as text, and allows 32 levels', async () => {
      const brackets = JSON.stringify('['.repeat(3000));
      const res = await post('/api/v1/devices', `{"name":${brackets}}`, user);
      expectError(res, 400, 'validation_failed');
      expect(JSON.stringify(res.body.message)).not.toMatch(/deeper/);
      // 32 levels, the body itself being the first: parsed, then refused by validation.
      const ok = await post('/api/v1/devices', `{"name":"n","x":${nested(31)}}`, user);
      expectError(ok, 400, 'validation_failed');
      expect(JSON.stringify(ok.body.message)).toContain('property x should not exist');
    });

    it('on a device route, still answers 401 before looking at the body', async () => {
      const res = await post('/api/v1/device/heartbeat', `{"s":${nested(2000)}}`);
      expectError(res, 401, 'device_auth_malformed');
    });
  });

  describe('Unicode in names and e-mails', () => {
    it('refuses a lone surrogate in a device name with 400 on create and rename', async () => {
      for (const name of ['x\\ud800y', '\\udfff', 'a\\ud83d']) {
        expectError(
          await post('/api/v1/devices', `{"name":"${name}"}`, user),
          400,
          'validation_failed',
        );
      }
      const device = await createDevice(t, user);
      expectError(
        await patch(`/api/v1/devices/${device.id}`, '{"name":"x\\ud800y"}', user),
        400,
        'validation_failed',
      );
      // A proper pair is one character and fine.
      const ok = await post('/api/v1/devices', `{"name":"${uniqueName()} \\ud83d\\ude00"}`, user);
      expect(ok.status).toBe(201);
      expect(ok.body.name).toMatch(/ 😀$/);
    });

    it('refuses lone surrogates in e-mails and passwords with 400', async () => {
      expectError(
        await post(
          '/api/v1/auth/register',
          '{"email":"a\\ud800@example.com","password":"long-enough-pw"}',
        ),
        400,
        'validation_failed',
      );
      expectError(
        await post(
          '/api/v1/auth/login',
          '{"email":"a@example.com","password":"long-enough-\\udc00"}',
        ),
        400,
        'validation_failed',
      );
    });

    it('treats the NFC and NFD forms of a device name as one name (409)', async () => {
      const base = uniqueName('café');
      const nfc = base.normalize('NFC');
      const nfd = base.normalize('NFD');
      expect(nfc).not.toBe(nfd);
      const created = await post('/api/v1/devices', JSON.stringify({ name: nfd }), user);
      expect(created.status).toBe(201);
      expect(created.body.name).toBe(nfc);
      expectError(
        await post('/api/v1/devices', JSON.stringify({ name: nfc }), user),
        409,
        'device_name_taken',
      );
      const other = await createDevice(t, user);
      expectError(
        await patch(`/api/v1/devices/${other.id}`, JSON.stringify({ name: nfd }), user),
        409,
        'device_name_taken',
      );
    });

    it('treats the NFC and NFD forms of an e-mail as one account (409), and logs in with either', async () => {
      const local = `josé-${uniqueName()}`;
      const password = 'Unicode-Passphrase-1';
      const nfd = `${local.normalize('NFD')}@example.com`;
      const nfc = `${local.normalize('NFC')}@example.com`;
      const first = await post('/api/v1/auth/register', JSON.stringify({ email: nfd, password }));
      expect(first.status).toBe(201);
      expect(first.body.email).toBe(nfc);
      expectError(
        await post('/api/v1/auth/register', JSON.stringify({ email: nfc, password })),
        409,
        'email_taken',
      );
      expect((await login(t, { email: nfc, password })).status).toBe(200);
      expect((await login(t, { email: nfd, password })).status).toBe(200);
    });
  });

  describe('__proto__ and constructor keys', () => {
    const bodies = (fields: string) => [
      `{${fields},"__proto__":{"x":1}}`,
      `{${fields},"constructor":{"prototype":{"x":1}}}`,
      `{${fields},"nested":{"__proto__":{"x":1}}}`,
    ];

    it('are 400 on create, rename and rotate-secret', async () => {
      const device = await createDevice(t, user);
      for (const body of bodies(`"name":"${uniqueName('pp')}"`)) {
        expectError(await post('/api/v1/devices', body, user), 400, 'validation_failed');
        expectError(
          await patch(`/api/v1/devices/${device.id}`, body, user),
          400,
          'validation_failed',
        );
      }
      for (const body of [
        '{"__proto__":{"graceSeconds":999999999}}',
        '{"graceSeconds":5,"constructor":{}}',
      ]) {
        const res = await post(`/api/v1/devices/${device.id}/rotate-secret`, body, user);
        expectError(res, 400, 'validation_failed');
        expect(JSON.stringify(res.body.message)).toMatch(/__proto__|constructor/);
      }
    });

    it('are 400 on register and login', async () => {
      const credentials = newCredentials();
      const fields = `"email":"${credentials.email}","password":"${credentials.password}"`;
      for (const body of bodies(fields)) {
        expectError(await post('/api/v1/auth/register', body), 400, 'validation_failed');
        expectError(await post('/api/v1/auth/login', body), 400, 'validation_failed');
      }
      // Nothing was created by the refused registrations.
      expect((await login(t, credentials)).status).toBe(401);
    });
  });

  describe('URLs and bearer tokens', () => {
    it('answers a badly percent-encoded URL with 400 validation_failed', async () => {
      for (const path of ['/api/v1/devices/%ff', '/api/v1/devices/%E0%A4%A', '/api/v1/devic%ff']) {
        const res = await request(t.server).get(path).set(user.auth);
        expectError(res, 400, 'validation_failed');
      }
    });

    it('accepts exactly one token after Bearer, nothing else', async () => {
      const me = (authorization: string) =>
        request(t.server).get('/api/v1/auth/me').set('Authorization', authorization);
      expect((await me(`Bearer ${user.token}`)).status).toBe(200);
      expect((await me(`bearer ${user.token}`)).status).toBe(200);
      for (const header of [
        `Bearer ${user.token} junk`,
        `Bearer ${user.token} ${user.token}`,
        `Bearer  ${user.token}`,
        `Bearer ${user.token},junk`,
        `Bearer\t${user.token}`,
        `Token ${user.token}`,
        user.token,
      ]) {
        expectError(await me(header), 401, 'unauthorized');
      }
    });
  });

  describe('per-IP login bound', () => {
    it('answers 429 after 50 failures from one IP across e-mails, a correct password included', async () => {
      const ip = clientIp();
      const statuses: number[] = [];
      // In parallel batches: concurrent attempts are counted as they arrive.
      for (let batch = 0; batch < 5; batch++) {
        const batchStatuses = await Promise.all(
          Array.from({ length: 10 }, () =>
            login(t, { email: newCredentials().email, password: 'not-the-password' }, ip).then(
              (r) => r.status,
            ),
          ),
        );
        statuses.push(...batchStatuses);
      }
      expect(statuses).toEqual(Array(50).fill(401));
      const blocked = await login(t, { email: user.email, password: user.password }, ip);
      expectError(blocked, 429, 'rate_limited');
      const retryAfter = Number(blocked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(14 * 60);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      // Another IP is not affected.
      expect((await login(t, { email: user.email, password: user.password })).status).toBe(200);
    });

    it('does not count attempts refused by the per-e-mail limit against the IP', async () => {
      const ip = clientIp();
      const email = newCredentials().email;
      const statuses: number[] = [];
      for (let i = 0; i < 55; i++) {
        const res = await login(t, { email, password: `wrong-password-${i}` }, ip);
        statuses.push(res.status);
      }
      expect(statuses).toEqual([...Array(10).fill(401), ...Array(45).fill(429)]);
      // Ten failures from this IP, not 55: other e-mails still log in.
      expect((await login(t, { email: user.email, password: user.password }, ip)).status).toBe(200);
    });

    it('does not count successful logins', async () => {
      const ip = clientIp();
      for (let i = 0; i < 55; i++) {
        expect((await login(t, { email: user.email, password: user.password }, ip)).status).toBe(
          200,
        );
      }
    }, 120_000);
  });
});

describe('password hashing queue (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' },
    });
  });
  afterAll(() => t.close());

  it('answers 429 rate_limited at once to logins beyond the queue, never a 500', async () => {
    const user = await registerUser(t);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        login(t, { email: user.email, password: user.password }).then((res) => ({
          res,
          ms: Date.now() - started,
        })),
      ),
    );
    const statuses = results.map((r) => r.res.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    for (const { res } of results.filter((r) => r.res.status === 429)) {
      expectError(res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // Once the queue drains, logins succeed again.
    expect((await login(t, { email: user.email, password: user.password })).status).toBe(200);
  });

  it('does not count a login refused for a full queue as a failed attempt', async () => {
    const user = await registerUser(t);
    const ip = clientIp();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          login(t, { email: user.email, password: 'wrong-password' }, ip),
        ),
      );
    }
    // 24 attempts in all, but only the ones that were hashed count; most were refused at once.
    const res = await login(t, { email: user.email, password: user.password }, ip);
    expect(res.status).toBe(200);
  });
});

describe('TRUST_PROXY as a list of proxy addresses (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: '127.0.0.1,::1' } });
  });
  afterAll(() => t.close());

  it('takes the right-most entry no trusted proxy added, whatever the client wrote before it', async () => {
    const ip = clientIp();
    const email = newCredentials().email;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      // A spoofed left-most entry, the client, then a trusted proxy (loopback) that appended it.
      const forwarded = `203.0.113.${i}, ${ip}, 127.0.0.1`;
      statuses.push((await login(t, { email, password: `wrong-password-${i}` }, forwarded)).status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
  });
});

describe('TRUST_PROXY unset (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { TRUST_PROXY: undefined } });
  });
  afterAll(() => t.close());

  it('ignores X-Forwarded-For: the socket address is the client', async () => {
    const email = newCredentials().email;
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await login(t, { email, password: `wrong-password-${i}` }, clientIp());
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
  });
});
