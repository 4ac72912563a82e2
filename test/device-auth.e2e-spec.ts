import { createHash, randomUUID } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { heartbeat, signedRequest } from './factories/signed';
import { registerUser, TestUser } from './factories/users';
import { lastSeenWithin } from './support/last-seen';
import { appWithDevice } from './support/suite-app';

const now = () => Math.floor(Date.now() / 1000);
const SKEW = 300;

describe('device authentication (HMAC-SHA256)', () => {
  let t: TestApp;
  let owner: TestUser;
  let device: TestDevice;

  beforeAll(async () => {
    ({ t, user: owner, device } = await appWithDevice({ deviceName: 'EA main' }));
  });
  afterAll(() => t.close());

  const expect401 = async (res: request.Response, code: string) => {
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
      code,
    });
  };

  describe('valid requests', () => {
    it('GET /device/me answers the device with its owner and no secret', async () => {
      const res = await signedRequest(t, device).expect(200);
      expect(res.body).toEqual({
        id: device.id,
        name: 'EA main',
        status: 'active',
        ownerId: owner.id,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        lastSeenAt: null,
        revokedAt: null,
        expiresAt: null,
        disabledAt: null,
        scopes: [],
        allowedCidrs: [],
      });
      expect(JSON.stringify(res.body)).not.toContain(device.secret.slice(4));
    });

    it('POST /device/heartbeat with a body answers 204', async () => {
      await signedRequest(t, device, heartbeat('{"equity":10250.5,"positions":[1,2]}')).expect(204);
    });

    it('POST /device/heartbeat without a body answers 204', async () => {
      await signedRequest(t, device, { method: 'POST', path: '/api/v1/device/heartbeat' }).expect(
        204,
      );
    });

    it('signs the query string as part of the target', async () => {
      await signedRequest(t, device, { path: '/api/v1/device/me?verbose=1&x=%20' }).expect(200);
    });

    it('accepts a timestamp just inside the window, in the past and in the future', async () => {
      await signedRequest(t, device, { timestamp: now() - SKEW + 2 }).expect(200);
      await signedRequest(t, device, { timestamp: now() + SKEW - 2 }).expect(200);
    });

    it('ignores an owner bearer token: it is not a device credential', async () => {
      const res = await request(t.server).get('/api/v1/device/me').set(owner.auth);
      await expect401(res, 'device_auth_malformed');
    });
  });

  describe('tampering', () => {
    let d: TestDevice;
    beforeAll(async () => {
      d = await createDevice(t, owner);
    });

    it('rejects a changed body', async () => {
      const res = await signedRequest(t, d, { ...heartbeat('{"a":1}'), sendBody: '{"a":2}' });
      await expect401(res, 'invalid_signature');
    });

    it('rejects a changed path', async () => {
      const res = await signedRequest(t, d, {
        path: '/api/v1/device/me',
        sendPath: '/api/v1/device/me/',
      });
      expect([401, 404]).toContain(res.status);
      const res2 = await signedRequest(t, d, {
        ...heartbeat(),
        path: '/api/v1/device/me',
        sendPath: '/api/v1/device/heartbeat',
      });
      await expect401(res2, 'invalid_signature');
    });

    it('rejects a changed query string', async () => {
      const res = await signedRequest(t, d, {
        path: '/api/v1/device/me?a=1',
        sendPath: '/api/v1/device/me?a=2',
      });
      await expect401(res, 'invalid_signature');
    });

    it('rejects a changed method', async () => {
      const res = await signedRequest(t, d, {
        method: 'GET',
        path: '/api/v1/device/heartbeat',
        sendMethod: 'POST',
      });
      await expect401(res, 'invalid_signature');
    });

    it('rejects a changed timestamp', async () => {
      const ts = now();
      const res = await signedRequest(t, d, {
        timestamp: ts,
        headers: { 'X-Timestamp': String(ts - 1) },
      });
      await expect401(res, 'invalid_signature');
    });

    it('rejects a signature made with another secret', async () => {
      const other = await createDevice(t, owner);
      await expect401(await signedRequest(t, d, { secret: other.secret }), 'invalid_signature');
    });

    it('rejects a device id swapped for another device of the same owner', async () => {
      const other = await createDevice(t, owner);
      const res = await signedRequest(t, { id: other.id, secret: d.secret });
      await expect401(res, 'invalid_signature');
    });
  });

  describe('timestamps', () => {
    it('rejects a timestamp just outside the window, past and future', async () => {
      await expect401(
        await signedRequest(t, device, { timestamp: now() - SKEW - 2 }),
        'timestamp_out_of_range',
      );
      await expect401(
        await signedRequest(t, device, { timestamp: now() + SKEW + 2 }),
        'timestamp_out_of_range',
      );
    });
  });

  describe('malformed headers', () => {
    const cases: [string, Record<string, string>][] = [
      ['a device id that is not a UUID', { 'X-Device-Id': 'not-a-uuid' }],
      ['a non-numeric timestamp', { 'X-Timestamp': '12a' }],
      ['a fractional timestamp', { 'X-Timestamp': '1795852800.5' }],
      ['a negative timestamp', { 'X-Timestamp': '-1795852800' }],
      ['a nonce that is too short', { 'X-Nonce': 'abc' }],
      ['a nonce that is too long', { 'X-Nonce': 'a'.repeat(129) }],
      ['a nonce with other characters', { 'X-Nonce': 'abcdefghijklmnop!' }],
      ['a signature that is not base64', { 'X-Signature': '!'.repeat(44) }],
      ['a signature of the wrong length', { 'X-Signature': 'AAAA' }],
      ['base64url instead of base64', { 'X-Signature': '_'.repeat(43) + '=' }],
    ];
    it.each(cases)('rejects %s with device_auth_malformed', async (_, headers) => {
      await expect401(await signedRequest(t, device, { headers }), 'device_auth_malformed');
    });

    it.each(['X-Device-Id', 'X-Timestamp', 'X-Nonce', 'X-Signature'])(
      'rejects a request without %s',
      async (name) => {
        const res = await signedRequest(t, device, { headers: { [name]: '' } });
        await expect401(res, 'device_auth_malformed');
      },
    );
  });

  describe('nonces', () => {
    it('refuses a replayed nonce', async () => {
      const nonce = `replay-${randomUUID()}`;
      await signedRequest(t, device, { nonce }).expect(200);
      await expect401(await signedRequest(t, device, { nonce }), 'nonce_replayed');
      await expect401(await signedRequest(t, device, { ...heartbeat(), nonce }), 'nonce_replayed');
    });

    it('does not burn the nonce of a rejected request', async () => {
      const nonce = `unburnt-${randomUUID()}`;
      await expect401(
        await signedRequest(t, device, { nonce, secret: 'dvs_wrong' }),
        'invalid_signature',
      );
      await expect401(
        await signedRequest(t, device, { nonce, timestamp: now() - 10_000 }),
        'timestamp_out_of_range',
      );
      await signedRequest(t, device, { nonce }).expect(200);
    });

    it('lets one nonce through exactly once when sent concurrently', async () => {
      const nonce = `race-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, () => signedRequest(t, device, { nonce })),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 401 && r.body.code === 'nonce_replayed'),
      ).toHaveLength(7);
    });

    it('keeps nonces per device', async () => {
      const other = await createDevice(t, owner);
      const nonce = `shared-${randomUUID()}`;
      await signedRequest(t, device, { nonce }).expect(200);
      await signedRequest(t, other, { nonce }).expect(200);
    });
  });

  describe('device lifecycle', () => {
    it('rejects an unknown device', async () => {
      await expect401(
        await signedRequest(t, { id: randomUUID(), secret: device.secret }),
        'invalid_signature',
      );
    });

    it('rejects a revoked device on its very next request', async () => {
      const d = await createDevice(t, owner);
      await signedRequest(t, d).expect(200);
      await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
      await expect401(await signedRequest(t, d), 'invalid_signature');
    });

    it('rejects a deleted device', async () => {
      const d = await createDevice(t, owner);
      await signedRequest(t, d).expect(200);
      await request(t.server).delete(`/api/v1/devices/${d.id}`).set(owner.auth).expect(204);
      await expect401(await signedRequest(t, d), 'invalid_signature');
    });

    it('rejects the devices of a deleted user', async () => {
      const u = await registerUser(t);
      const d = await createDevice(t, u);
      await signedRequest(t, d).expect(200);
      await request(t.server).delete('/api/v1/auth/me').set(u.auth).expect(204);
      await expect401(await signedRequest(t, d), 'invalid_signature');
    });
  });

  describe('secret rotation', () => {
    const rotate = (d: TestDevice, body: object = {}) =>
      request(t.server).post(`/api/v1/devices/${d.id}/rotate-secret`).set(owner.auth).send(body);

    it('without grace: the new secret works at once, the old one stops', async () => {
      const d = await createDevice(t, owner);
      const res = await rotate(d).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.secret).toMatch(/^dvs_[A-Za-z0-9_-]{43}$/);
      expect(res.body.secret).not.toBe(d.secret);
      expect(res.body.previousSecretExpiresAt).toBeNull();
      await expect401(await signedRequest(t, d), 'invalid_signature');
      await signedRequest(t, { id: d.id, secret: res.body.secret }).expect(200);
    });

    it('with grace: both secrets work until the previous one expires', async () => {
      const d = await createDevice(t, owner);
      const before = Date.now();
      const res = await rotate(d, { graceSeconds: 2 }).expect(200);
      const expiresAt = Date.parse(res.body.previousSecretExpiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 1000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 2000);
      await signedRequest(t, d).expect(200);
      await signedRequest(t, { id: d.id, secret: res.body.secret }).expect(200);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 300));
      await expect401(await signedRequest(t, d), 'invalid_signature');
      await signedRequest(t, { id: d.id, secret: res.body.secret }).expect(200);
    });

    it('rotating twice keeps only one previous secret', async () => {
      const d = await createDevice(t, owner);
      const first = await rotate(d, { graceSeconds: 600 }).expect(200);
      const second = await rotate(d, { graceSeconds: 600 }).expect(200);
      await expect401(await signedRequest(t, d), 'invalid_signature');
      await signedRequest(t, { id: d.id, secret: first.body.secret }).expect(200);
      await signedRequest(t, { id: d.id, secret: second.body.secret }).expect(200);
      const [{ n }] = await t.dataSource.query(
        'SELECT count(*)::int AS n FROM device_secrets WHERE device_id = $1',
        [d.id],
      );
      expect(n).toBe(2);
    });

    it('bumps updatedAt and records the rotation', async () => {
      const d = await createDevice(t, owner);
      const before = await request(t.server)
        .get(`/api/v1/devices/${d.id}`)
        .set(owner.auth)
        .expect(200);
      await new Promise((r) => setTimeout(r, 5));
      const res = await rotate(d, { graceSeconds: 60 }).expect(200);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(before.body.updatedAt));
      const events = await request(t.server)
        .get(`/api/v1/devices/${d.id}/events`)
        .set(owner.auth)
        .expect(200);
      expect(events.body.items[0]).toMatchObject({
        type: 'secret_rotated',
        details: { graceSeconds: 60 },
      });
      expect(JSON.stringify(events.body)).not.toContain(res.body.secret.slice(4));
    });

    it('refuses to rotate a revoked device and validates graceSeconds', async () => {
      const d = await createDevice(t, owner);
      for (const graceSeconds of [-1, 604_801, 1.5, '10']) {
        const res = await rotate(d, { graceSeconds }).expect(400);
        expect(res.body.code).toBe('validation_failed');
      }
      await rotate(d, { graceSeconds: 604_800 }).expect(200);
      await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
      const res = await rotate(d).expect(409);
      expect(res.body.code).toBe('device_revoked');
    });
  });

  describe('lastSeenAt', () => {
    it('reaches the owner within 5 seconds of a signed request', async () => {
      const d = await createDevice(t, owner);
      const sentAt = Date.now();
      await signedRequest(t, d, heartbeat()).expect(204);
      const lastSeenAt = await lastSeenWithin(t, owner, d.id, 5000);
      expect(lastSeenAt).not.toBeNull();
      expect(Date.parse(lastSeenAt!)).toBeGreaterThanOrEqual(sentAt - 1000);
    });
  });

  describe('X-Content-SHA256', () => {
    it('is accepted when it is the hash of the body received', async () => {
      const res = signedRequest(t, device, heartbeat('{"equity":1}'));
      await res.expect(204);
    });

    it('is optional', async () => {
      await signedRequest(t, device, {
        ...heartbeat('{"equity":2}'),
        withoutContentSha256: true,
      }).expect(204);
    });

    it('must be the hash of the body received, else invalid_signature, and the nonce stays unused', async () => {
      const nonce = `content-${randomUUID()}`;
      const body = '{"equity":3}';
      const other = createHash('sha256').update('{"equity":4}').digest('hex');
      const res = await signedRequest(t, device, {
        ...heartbeat(body),
        nonce,
        headers: { 'X-Content-SHA256': other },
      });
      await expect401(res, 'invalid_signature');
      await signedRequest(t, device, { ...heartbeat(body), nonce }).expect(204);
    });

    it('of a request without a body must be the hash of the empty body', async () => {
      const empty = createHash('sha256').update('').digest('hex');
      await signedRequest(t, device, { headers: { 'X-Content-SHA256': empty } }).expect(200);
      const res = await signedRequest(t, device, {
        headers: { 'X-Content-SHA256': 'a'.repeat(64) },
      });
      await expect401(res, 'invalid_signature');
    });
  });

  describe('bodies and order of checks', () => {
    it('answers 413 for a body over 4 KiB, before authentication', async () => {
      const big = JSON.stringify({ pad: 'x'.repeat(4100) });
      const res = await signedRequest(t, device, heartbeat(big));
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('payload_too_large');
      const unsigned = await request(t.server)
        .post('/api/v1/device/heartbeat')
        .set('Content-Type', 'application/json')
        .send(big);
      expect(unsigned.status).toBe(413);
    });

    it('accepts a body of exactly 4 KiB', async () => {
      const body = JSON.stringify({ pad: 'x'.repeat(4096 - 10) });
      expect(Buffer.byteLength(body)).toBe(4096);
      await signedRequest(t, device, heartbeat(body)).expect(204);
    });

    it('authenticates before looking at the body', async () => {
      const unsigned = await request(t.server)
        .post('/api/v1/device/heartbeat')
        .set('Content-Type', 'application/json')
        .send('{oops');
      await expect401(unsigned, 'device_auth_malformed');
      const bad = await signedRequest(t, device, { ...heartbeat('{oops'), secret: 'dvs_wrong' });
      await expect401(bad, 'invalid_signature');
      const signedBad = await signedRequest(t, device, heartbeat('{oops')).expect(400);
      expect(signedBad.body.code).toBe('validation_failed');
      const notObject = await signedRequest(t, device, heartbeat('[1,2]')).expect(400);
      expect(notObject.body.code).toBe('validation_failed');
    });

    it('authenticates first on a percent-encoded device path too (the route decides, not the URL text)', async () => {
      const res = await request(t.server)
        .post('/api/v1/devic%65/heartbeat')
        .set('Content-Type', 'application/json')
        .send('{bad');
      expect([401, 404]).toContain(res.status);
      expectError(res, res.status, res.status === 401 ? 'device_auth_malformed' : 'not_found');
      const signed = await signedRequest(t, device, {
        ...heartbeat('{"ok":true}'),
        path: '/api/v1/devic%65/heartbeat',
      });
      expect(signed.status).toBe(204);
    });

    it('accepts a JSON content type with parameters', async () => {
      await signedRequest(t, device, heartbeat())
        .set('Content-Type', 'application/json; charset=utf-8')
        .expect(204);
    });

    it('refuses a JSON null heartbeat body after authentication', async () => {
      const res = await signedRequest(t, device, heartbeat('null')).expect(400);
      expect(res.body.code).toBe('validation_failed');
    });

    it('accepts any JSON object fields in a heartbeat', async () => {
      await signedRequest(
        t,
        device,
        heartbeat('{"anything":{"nested":true},"x":[1,"2",null]}'),
      ).expect(204);
    });
  });

  describe('rate limit of failed device requests', () => {
    it('after 50 answers of 401 for one IP, further device requests from it are 429 with Retry-After', async () => {
      const ip = '198.51.100.7';
      for (let i = 0; i < 50; i++) {
        const res = await signedRequest(t, { id: randomUUID(), secret: 'dvs_x' }, { ip });
        expect(res.status).toBe(401);
      }
      const blocked = await signedRequest(t, device, { ip });
      expect(blocked.status).toBe(429);
      expect(blocked.body.code).toBe('rate_limited');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
      await signedRequest(t, device, { ip: '198.51.100.8' }).expect(200);
    });

    it("never counts failures against a device id: 50 unsigned requests with a victim's id from one IP leave the victim working from another", async () => {
      const victim = await createDevice(t, owner);
      const attacker = '198.51.100.66';
      for (let i = 0; i < 50; i++) {
        const res = await request(t.server)
          .get('/api/v1/device/me')
          .set('X-Forwarded-For', attacker)
          .set('X-Device-Id', victim.id);
        await expect401(res, 'device_auth_malformed');
      }
      expect((await signedRequest(t, victim, { ip: attacker })).status).toBe(429);
      await signedRequest(t, victim, { ip: '198.51.100.67' }).expect(200);
      await signedRequest(t, victim, heartbeat()).expect(204);
    });
  });

  it('counts results in device_auth_total', async () => {
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toMatch(/device_auth_total\{result="ok"\} [1-9]/);
    expect(res.text).toMatch(/device_auth_total\{result="invalid_signature"\} [1-9]/);
  });
});
