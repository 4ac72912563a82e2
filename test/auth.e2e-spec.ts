import * as argon2 from 'argon2';
import { JwtService } from '@nestjs/jwt';
import { dictionary } from '@zxcvbn-ts/language-common';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { decodeJwt, nowSeconds, signJwt } from './factories/tokens';
import { clientIp, login, newCredentials, registerUser, TestUser } from './factories/users';

const JWT_SECRET = randomBytes(32).toString('hex');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Entries of the maintained common-password list deep in it, long enough to pass the length rule. */
const LISTED = dictionary['passwords-common'].filter((p) => p.length >= 8);
const DEEP_IN_THE_LIST = [LISTED[5000], LISTED.at(-1)!.toUpperCase()];

describe('auth (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { JWT_SECRET } });
  });
  afterAll(() => t.close());

  const register = (body: unknown, ip = clientIp()) =>
    request(t.server)
      .post('/api/v1/auth/register')
      .set('X-Forwarded-For', ip)
      .send(body as object);
  const me = (authorization?: string) => {
    const req = request(t.server).get('/api/v1/auth/me');
    return authorization === undefined ? req : req.set('Authorization', authorization);
  };

  describe('POST /auth/register', () => {
    it('creates an account and answers 201 {id, email, createdAt}', async () => {
      const credentials = newCredentials();
      const before = Date.now();
      const res = await register(credentials).expect(201);

      expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'email', 'id']);
      expect(res.body.id).toMatch(UUID);
      expect(res.body.email).toBe(credentials.email);
      expect(res.body.createdAt).toMatch(ISO);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(res.body.createdAt)).toBeLessThanOrEqual(Date.now() + 5_000);

      const rows = await t.dataSource.query(`SELECT id, email FROM users WHERE id = $1`, [
        res.body.id,
      ]);
      expect(rows).toEqual([{ id: res.body.id, email: credentials.email }]);
    });

    it('trims and lower-cases the e-mail, and login accepts any variant of it', async () => {
      const { email, password } = newCredentials();
      const res = await register({ email: `  ${email.toUpperCase()}\t`, password }).expect(201);
      expect(res.body.email).toBe(email);

      await login(t, { email: ` ${email.replace('user', 'USER')} `, password }).expect(200);
    });

    it('stores only an argon2id hash of the password', async () => {
      const credentials = newCredentials();
      const res = await register(credentials).expect(201);
      const [row] = await t.dataSource.query(`SELECT password_hash FROM users WHERE id = $1`, [
        res.body.id,
      ]);
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.password_hash).not.toContain(credentials.password);
    });

    it('replaces a hash made with older parameters at the next successful login, not at a failed one', async () => {
      const credentials = newCredentials();
      const res = await register(credentials).expect(201);
      const hashOf = async () =>
        (
          await t.dataSource.query(`SELECT password_hash FROM users WHERE id = $1`, [res.body.id])
        )[0].password_hash as string;
      // What versions before 12 MiB / 3 passes stored.
      const old = await argon2.hash(credentials.password, {
        type: argon2.argon2id,
        memoryCost: 19_456,
        timeCost: 2,
        parallelism: 1,
      });
      await t.dataSource.query(`UPDATE users SET password_hash = $1 WHERE id = $2`, [
        old,
        res.body.id,
      ]);

      await login(t, { ...credentials, password: `${credentials.password}-wrong` }).expect(401);
      expect(await hashOf()).toBe(old);
      await login(t, credentials).expect(200);
      const current = await hashOf();
      expect(current).toMatch(/^\$argon2id\$v=19\$m=12288,p=1,t=3\$/);
      expect(await argon2.verify(current, credentials.password)).toBe(true);
      // The next login verifies against the new hash and leaves it as it is.
      await login(t, credentials).expect(200);
      expect(await hashOf()).toBe(current);
    });

    it('answers 409 email_taken for an e-mail already registered, in any case or padding', async () => {
      const { email, password } = newCredentials();
      await register({ email, password }).expect(201);

      for (const variant of [email, email.toUpperCase(), `  ${email}  `]) {
        const res = await register({ email: variant, password: `${password}-other` });
        expectError(res, 409, 'email_taken');
      }
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM users WHERE email = $1`,
        [email],
      );
      expect(n).toBe(1);
    });

    it('accepts passwords of exactly 8 and 128 characters', async () => {
      await register({ ...newCredentials(), password: 'Zq8#mK2p' }).expect(201);
      await register({ ...newCredentials(), password: randomBytes(96).toString('base64') }).expect(
        201,
      );
    });

    it('accepts an e-mail of 254 characters and refuses one of 255', async () => {
      const local = randomBytes(6).toString('hex') + 'a'.repeat(52);
      const domain = (last: number) =>
        `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(last)}.com`;
      const ok = `${local}@${domain(57)}`;
      expect(ok).toHaveLength(254);
      const res = await register({ email: ok, password: newCredentials().password }).expect(201);
      expect(res.body.email).toBe(ok);

      const tooLong = `${randomBytes(6).toString('hex') + 'a'.repeat(52)}@${domain(58)}`;
      expect(tooLong).toHaveLength(255);
      expectError(
        await register({ email: tooLong, password: newCredentials().password }),
        400,
        'validation_failed',
      );
    });

    it.each([
      ['a malformed e-mail', { email: 'not-an-email', password: 'Zq8#mK2p-long' }],
      ['an e-mail without domain', { email: 'someone@', password: 'Zq8#mK2p-long' }],
      ['an empty e-mail', { email: '   ', password: 'Zq8#mK2p-long' }],
      ['a 7-character password', { email: 'x', password: 'Zq8#mK2' }],
      ['a 129-character password', { email: 'x', password: 'a1B$'.repeat(32) + 'z' }],
      ['a missing password', { email: 'x' }],
      ['a missing e-mail', { password: 'Zq8#mK2p-long' }],
      ['an empty body', {}],
      ['a numeric e-mail', { email: 12345, password: 'Zq8#mK2p-long' }],
      ['a numeric password', { email: 'x', password: 123456789 }],
      ['an array password', { email: 'x', password: ['Zq8#mK2p-long'] }],
      ['a null e-mail', { email: null, password: 'Zq8#mK2p-long' }],
      ['an unknown field', { email: 'x', password: 'Zq8#mK2p-long', isAdmin: true }],
    ])('answers 400 validation_failed for %s', async (_, body: Record<string, unknown>) => {
      const email = newCredentials().email;
      const payload = body.email === 'x' ? { ...body, email } : body;
      const res = await register(payload);
      expectError(res, 400, 'validation_failed');
      if (typeof body.password === 'string') expect(res.text).not.toContain(body.password);
      const rows = await t.dataSource.query(`SELECT 1 FROM users WHERE email = $1`, [email]);
      expect(rows).toHaveLength(0);
    });

    it.each(['password123', 'PassWord123', 'iloveyou', 'qwertyuiop', ...DEEP_IN_THE_LIST])(
      'answers 400 weak_password for the common password %s',
      async (password) => {
        const { email } = newCredentials();
        const res = await register({ email, password });
        expectError(res, 400, 'weak_password');
        expect(res.text).not.toContain(password);
        const rows = await t.dataSource.query(`SELECT 1 FROM users WHERE email = $1`, [email]);
        expect(rows).toHaveLength(0);
      },
    );

    it('allows 20 registrations an hour from one IP and answers the 21st 429 rate_limited', async () => {
      const ip = '198.51.100.20';
      for (let i = 0; i < 20; i++) await register(newCredentials(), ip).expect(201);

      const refused = newCredentials();
      const res = await register(refused, ip);
      expectError(res, 429, 'rate_limited');
      const retryAfter = Number(res.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      const rows = await t.dataSource.query(`SELECT 1 FROM users WHERE email = $1`, [
        refused.email,
      ]);
      expect(rows).toHaveLength(0);

      // Other clients are not affected.
      await register(refused, '198.51.100.21').expect(201);
    });
  });

  describe('POST /auth/login', () => {
    let user: TestUser;
    beforeAll(async () => {
      user = await registerUser(t);
    });

    it('answers 200 {accessToken, tokenType: Bearer, expiresIn: 900} with an HS256 JWT', async () => {
      const res = await login(t, { email: user.email, password: user.password }).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresIn', 'tokenType']);
      expect(res.body.tokenType).toBe('Bearer');
      expect(res.body.expiresIn).toBe(900);

      const { header, payload } = decodeJwt(res.body.accessToken);
      expect(header.alg).toBe('HS256');
      expect(payload.sub).toBe(user.id);
      expect((payload.exp as number) - (payload.iat as number)).toBe(900);

      const who = await me(`Bearer ${res.body.accessToken}`).expect(200);
      expect(who.body.id).toBe(user.id);
    });

    it('gives unknown e-mail and wrong password the same 401 invalid_credentials body', async () => {
      const wrongPassword = await login(t, { email: user.email, password: 'Wrong-password-1' });
      const unknownEmail = await login(t, {
        email: newCredentials().email,
        password: user.password,
      });
      expectError(wrongPassword, 401, 'invalid_credentials');
      expectError(unknownEmail, 401, 'invalid_credentials');
      expect(unknownEmail.body).toEqual(wrongPassword.body);
      expect(wrongPassword.text).not.toContain('Wrong-password-1');
      expect(unknownEmail.text).not.toContain(user.password);
    });

    it.each([
      ['a missing password', (email: string) => ({ email })],
      ['a missing e-mail', () => ({ password: 'Zq8#mK2p-long' })],
      ['a numeric password', (email: string) => ({ email, password: 12345678 })],
      ['a malformed e-mail', () => ({ email: 'nobody', password: 'Zq8#mK2p-long' })],
      ['a 129-character password', (email: string) => ({ email, password: 'x'.repeat(129) })],
      ['an unknown field', (email: string) => ({ email, password: 'Zq8#mK2p-long', otp: 1 })],
    ])('answers 400 validation_failed for %s', async (_, body) => {
      expectError(await login(t, body(user.email)), 400, 'validation_failed');
    });

    it('after 10 failed attempts for one (IP, e-mail) answers 429 rate_limited, even to the right password', async () => {
      const victim = await registerUser(t);
      const other = await registerUser(t);
      const ip = '198.51.100.77';

      for (let i = 1; i <= 10; i++) {
        const res = await login(t, { email: victim.email, password: `Wrong-password-${i}` }, ip);
        expectError(res, 401, 'invalid_credentials');
      }

      const blocked = await login(t, { email: victim.email, password: victim.password }, ip);
      expectError(blocked, 429, 'rate_limited');
      const retryAfter = Number(blocked.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(blocked.body.accessToken).toBeUndefined();

      // The pair is the normalised e-mail: a case variant is the same pair.
      const variant = await login(
        t,
        { email: ` ${victim.email.toUpperCase()} `, password: victim.password },
        ip,
      );
      expectError(variant, 429, 'rate_limited');

      // Another IP for the same e-mail, and another e-mail from the same IP, still work.
      await login(t, { email: victim.email, password: victim.password }, '198.51.100.78').expect(
        200,
      );
      await login(t, { email: other.email, password: other.password }, ip).expect(200);
    });

    it('does not let concurrent attempts past the limit: of 25 at once, at most 10 are answered 401', async () => {
      const victim = await registerUser(t);
      const ip = '198.51.100.79';
      const attempts = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          login(t, { email: victim.email, password: `Wrong-password-${i}` }, ip),
        ),
      );
      const statuses = attempts.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(15);
      for (const r of attempts.filter((a) => a.status === 429)) expectError(r, 429, 'rate_limited');
      expectError(
        await login(t, { email: victim.email, password: victim.password }, ip),
        429,
        'rate_limited',
      );
    });

    it('does not count successful logins as failures', async () => {
      const user2 = await registerUser(t);
      const ip = '198.51.100.80';
      for (let i = 0; i < 9; i++) {
        await login(t, { email: user2.email, password: 'Wrong-password' }, ip).expect(401);
      }
      for (let i = 0; i < 3; i++) {
        await login(t, { email: user2.email, password: user2.password }, ip).expect(200);
      }
      await login(t, { email: user2.email, password: 'Wrong-password' }, ip).expect(401);
      expectError(
        await login(t, { email: user2.email, password: user2.password }, ip),
        429,
        'rate_limited',
      );
    });
  });

  describe('GET /auth/me', () => {
    let user: TestUser;
    beforeAll(async () => {
      user = await registerUser(t);
    });

    it('answers 200 {id, email, createdAt} for the token holder', async () => {
      const res = await me(user.auth.Authorization).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'email', 'id']);
      expect(res.body.id).toBe(user.id);
      expect(res.body.email).toBe(user.email);
      expect(res.body.createdAt).toMatch(ISO);
      const [row] = await t.dataSource.query(`SELECT created_at FROM users WHERE id = $1`, [
        user.id,
      ]);
      expect(res.body.createdAt).toBe(new Date(row.created_at).toISOString());
    });

    it('accepts a token signed with JWT_SECRET (control for the cases below)', async () => {
      const token = signJwt(
        { sub: user.id, iat: nowSeconds(), exp: nowSeconds() + 60 },
        JWT_SECRET,
      );
      const res = await me(`Bearer ${token}`).expect(200);
      expect(res.body.id).toBe(user.id);
    });

    it('answers 401 unauthorized without an Authorization header', async () => {
      expectError(await me(), 401, 'unauthorized');
    });

    it.each([
      ['an empty bearer token', () => 'Bearer '],
      ['a token that is no JWT', () => 'Bearer not-a-jwt'],
      ['a JWT with garbage parts', () => 'Bearer abc.def.ghi'],
      ['the token under another scheme', (u: TestUser) => `Basic ${u.token}`],
      ['the token without a scheme', (u: TestUser) => u.token],
    ])('answers 401 unauthorized for %s', async (_, header) => {
      expectError(await me(header(user)), 401, 'unauthorized');
    });

    it('answers 401 unauthorized for a tampered token', async () => {
      const other = await registerUser(t);
      const [header, payload, signature] = user.token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: other.id })).toString(
        'base64url',
      );
      expectError(await me(`Bearer ${header}.${forgedPayload}.${signature}`), 401, 'unauthorized');

      const i = Math.floor(signature.length / 2);
      const flipped = signature[i] === 'A' ? 'B' : 'A';
      const badSignature = signature.slice(0, i) + flipped + signature.slice(i + 1);
      expectError(await me(`Bearer ${header}.${payload}.${badSignature}`), 401, 'unauthorized');
    });

    it('answers 401 unauthorized for a token signed with another key or with alg none', async () => {
      const claims = { sub: user.id, iat: nowSeconds(), exp: nowSeconds() + 60 };
      const otherKey = signJwt(claims, randomBytes(32).toString('hex'));
      expectError(await me(`Bearer ${otherKey}`), 401, 'unauthorized');
      const unsigned = signJwt(claims, JWT_SECRET, 'none');
      expectError(await me(`Bearer ${unsigned}`), 401, 'unauthorized');
    });

    it('answers 401 unauthorized for an expired token', async () => {
      // Signed by the app's own JwtService: iat 1000 s ago with the 900 s lifetime.
      const jwt = t.app.get(JwtService);
      const expired = await jwt.signAsync({ sub: user.id, iat: nowSeconds() - 1000 });
      expect(decodeJwt(expired).payload.exp).toBeLessThan(nowSeconds());
      expectError(await me(`Bearer ${expired}`), 401, 'unauthorized');

      const handMade = signJwt(
        { sub: user.id, iat: nowSeconds() - 120, exp: nowSeconds() - 60 },
        JWT_SECRET,
      );
      expectError(await me(`Bearer ${handMade}`), 401, 'unauthorized');
    });

    it('answers 401 unauthorized for a validly signed token without a usable subject', async () => {
      const exp = nowSeconds() + 60;
      for (const claims of [{ exp }, { sub: 'admin', exp }, { sub: 42, exp }]) {
        expectError(await me(`Bearer ${signJwt(claims, JWT_SECRET)}`), 401, 'unauthorized');
      }
      const unknown = signJwt({ sub: '00000000-0000-4000-8000-000000000000', exp }, JWT_SECRET);
      expectError(await me(`Bearer ${unknown}`), 401, 'unauthorized');
    });
  });

  describe('DELETE /auth/me', () => {
    it('answers 401 unauthorized without a token', async () => {
      expectError(await request(t.server).delete('/api/v1/auth/me'), 401, 'unauthorized');
    });

    it("deletes the user with the user's devices, secrets and events; the token stops working", async () => {
      const user = await registerUser(t);
      const bystander = await registerUser(t);
      const devices = [await createDevice(t, user), await createDevice(t, user)];
      await request(t.server)
        .patch(`/api/v1/devices/${devices[0].id}`)
        .set(user.auth)
        .send({ name: 'renamed before deletion' })
        .expect(200);
      const kept = await createDevice(t, bystander);
      const ids = devices.map((d) => d.id);

      const count = async (table: string, column: string, values: string[]) => {
        const [{ n }] = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1::uuid[])`,
          [values],
        );
        return n as number;
      };
      expect(await count('device_secrets', 'device_id', ids)).toBe(2);
      expect(await count('device_events', 'device_id', ids)).toBe(3);

      const res = await request(t.server).delete('/api/v1/auth/me').set(user.auth).expect(204);
      expect(res.text).toBe('');

      expect(await count('users', 'id', [user.id])).toBe(0);
      expect(await count('devices', 'user_id', [user.id])).toBe(0);
      expect(await count('devices', 'id', ids)).toBe(0);
      expect(await count('device_secrets', 'device_id', ids)).toBe(0);
      expect(await count('device_events', 'device_id', ids)).toBe(0);

      // Someone else's data is untouched.
      expect(await count('users', 'id', [bystander.id])).toBe(1);
      expect(await count('device_secrets', 'device_id', [kept.id])).toBe(1);

      // The token of a deleted user is refused everywhere, and so is the password.
      expectError(await me(user.auth.Authorization), 401, 'unauthorized');
      expectError(
        await request(t.server).get('/api/v1/devices').set(user.auth),
        401,
        'unauthorized',
      );
      expectError(
        await request(t.server).delete('/api/v1/auth/me').set(user.auth),
        401,
        'unauthorized',
      );
      expectError(
        await login(t, { email: user.email, password: user.password }),
        401,
        'invalid_credentials',
      );

      // The e-mail is free again.
      await register({ email: user.email, password: user.password }).expect(201);
    });
  });
});
