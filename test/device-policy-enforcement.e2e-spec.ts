import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { LastSeenRecorder } from '../src/device-auth/last-seen.recorder';
import { signRequest } from '../src/device-auth/signing';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { clientIp, registerUser, TestUser } from './factories/users';
import { DeviceProbeModule } from './support/device-probe.module';

const VERIFY = '/api/v1/device-auth/verify';
/** The probe route that declares @DeviceAuth({ scopes: ['trades:write', 'signals.read'] }). */
const TRADES = '/api/v1/probe/trades';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The credential policy on device requests (contract "Credential policy"):
 * checked on every request after the signature, on the device row the nonce
 * statement returned, through the guard of device routes and forward auth.
 */
describe('credential policy: enforcement on device requests (e2e)', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await createTestApp({ imports: [DeviceProbeModule] });
    owner = await registerUser(t);
  });
  afterAll(() => t.close());

  const patch = (d: TestDevice, body: Record<string, unknown>) =>
    request(t.server).patch(`/api/v1/devices/${d.id}`).set(owner.auth).send(body).expect(200);
  const post = (d: TestDevice, verb: 'disable' | 'enable') =>
    request(t.server).post(`/api/v1/devices/${d.id}/${verb}`).set(owner.auth).expect(204);

  /** A forward-auth call about a GET the device signed, as nginx describes it. */
  function verify(
    d: TestDevice,
    o: {
      scopes?: string;
      ip?: string;
      nonce?: string;
      /** The method the proxy calls the verify endpoint with (nginx and Caddy: GET). */
      via?: 'get' | 'post' | 'put' | 'patch' | 'delete';
    } = {},
  ) {
    const target = `/api/trades?ref=${randomUUID()}`;
    const call = request(t.server)[o.via ?? 'get'];
    let req = call(VERIFY)
      .set(
        signRequest({
          deviceId: d.id,
          secret: d.secret,
          method: 'GET',
          path: target,
          nonce: o.nonce,
        }),
      )
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', target)
      .set('X-Forwarded-For', o.ip ?? clientIp());
    if (o.scopes !== undefined) req = req.set('X-Required-Scopes', o.scopes);
    return req;
  }

  async function lastSeenAt(d: TestDevice): Promise<string | null> {
    const res = await request(t.server).get(`/api/v1/devices/${d.id}`).set(owner.auth).expect(200);
    return res.body.lastSeenAt as string | null;
  }

  describe('disabled', () => {
    it('refuses a disabled device with 401 device_disabled, and enabling restores the same secret', async () => {
      const d = await createDevice(t, owner);
      await signedRequest(t, d).expect(200);

      await post(d, 'disable');
      expectError(await signedRequest(t, d), 401, 'device_disabled');
      expectError(await verify(d), 401, 'device_disabled');

      await post(d, 'enable');
      await signedRequest(t, d).expect(200);
      await verify(d).expect(200);
    });

    it('says device_disabled only to a request that carries the key: a wrong signature stays invalid_signature', async () => {
      const d = await createDevice(t, owner);
      await post(d, 'disable');
      const res = await signedRequest(t, d, { secret: `dvs_${'A'.repeat(43)}` });
      expectError(res, 401, 'invalid_signature');
    });

    it('burns the nonce of a refused request: after enabling, it is nonce_replayed', async () => {
      const d = await createDevice(t, owner);
      await post(d, 'disable');
      const nonce = `burnt-${randomUUID()}`;
      expectError(await signedRequest(t, d, { nonce }), 401, 'device_disabled');

      await post(d, 'enable');
      expectError(await signedRequest(t, d, { nonce }), 401, 'nonce_replayed');
      await signedRequest(t, d).expect(200);
    });

    it('does not mark a refused device as seen', async () => {
      const d = await createDevice(t, owner);
      await post(d, 'disable');
      expectError(await signedRequest(t, d), 401, 'device_disabled');
      // Marks are written in batches: write them now rather than wait for the timer.
      await t.app.get(LastSeenRecorder).flush();
      expect(await lastSeenAt(d)).toBeNull();

      await post(d, 'enable');
      await signedRequest(t, d).expect(200);
      await t.app.get(LastSeenRecorder).flush();
      expect(await lastSeenAt(d)).not.toBeNull();
    });
  });

  describe('expiry', () => {
    it('passes requests until expiresAt and refuses them from then on with credential_expired', async () => {
      const d = await createDevice(t, owner);
      const expiresAt = new Date(Date.now() + 2500);
      await patch(d, { expiresAt: expiresAt.toISOString() });

      const before: number[] = [];
      while (Date.now() < expiresAt.getTime() - 400) {
        before.push((await signedRequest(t, d)).status);
        await sleep(100);
      }
      expect(before.length).toBeGreaterThan(0);
      expect(new Set(before)).toEqual(new Set([200]));

      await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 50);
      expectError(await signedRequest(t, d), 401, 'credential_expired');
      expectError(await verify(d), 401, 'credential_expired');

      // A later expiry makes the same credential work again.
      await patch(d, { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      await signedRequest(t, d).expect(200);
    });
  });

  describe('allowedCidrs, against the client IP as TRUST_PROXY defines it', () => {
    it('refuses a request from outside the IPv4 network and passes one from inside', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { allowedCidrs: ['203.0.113.0/24'] });

      expectError(await signedRequest(t, d, { ip: '198.51.100.7' }), 401, 'ip_not_allowed');
      await signedRequest(t, d, { ip: '203.0.113.77' }).expect(200);
      expectError(await verify(d, { ip: '198.51.100.7' }), 401, 'ip_not_allowed');
      await verify(d, { ip: '203.0.113.8' }).expect(200);
    });

    it('matches IPv6 clients against an IPv6 network', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { allowedCidrs: ['2001:db8::/32'] });

      await signedRequest(t, d, { ip: clientIp() }).expect(200); // 2001:db8::…
      expectError(await signedRequest(t, d, { ip: '2001:db9::1' }), 401, 'ip_not_allowed');
      expectError(await signedRequest(t, d, { ip: '203.0.113.9' }), 401, 'ip_not_allowed');
      await verify(d, { ip: '2001:db8:1::5' }).expect(200);
    });

    it('takes the address the trusted proxy appended, not one the client wrote before it', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { allowedCidrs: ['203.0.113.0/24'] });
      // TRUST_PROXY=1: only the right-most entry (the proxy's) is the client.
      const res = await signedRequest(t, d, {
        headers: { 'X-Forwarded-For': '203.0.113.5, 198.51.100.7' },
      });
      expectError(res, 401, 'ip_not_allowed');
    });

    it('an empty list again allows any address', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { allowedCidrs: ['203.0.113.0/24'] });
      expectError(await signedRequest(t, d, { ip: '198.51.100.7' }), 401, 'ip_not_allowed');
      await patch(d, { allowedCidrs: [] });
      await signedRequest(t, d, { ip: '198.51.100.7' }).expect(200);
    });
  });

  it('checks in the contract order: disabled before expired before the address', async () => {
    const d = await createDevice(t, owner);
    const expiresAt = new Date(Date.now() + 1200);
    await patch(d, { expiresAt: expiresAt.toISOString(), allowedCidrs: ['203.0.113.0/24'] });
    await post(d, 'disable');
    await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 50);

    const outside = { ip: '198.51.100.7' };
    expectError(await signedRequest(t, d, outside), 401, 'device_disabled');
    await post(d, 'enable');
    expectError(await signedRequest(t, d, outside), 401, 'credential_expired');
    await patch(d, { expiresAt: null });
    expectError(await signedRequest(t, d, outside), 401, 'ip_not_allowed');
  });

  describe('scopes on a route of the app (@DeviceAuth({ scopes }))', () => {
    it('answers 403 insufficient_scope to a device lacking one of them, 200 once it holds them all', async () => {
      const d = await createDevice(t, owner);
      expectError(await signedRequest(t, d, { path: TRADES }), 403, 'insufficient_scope');
      await patch(d, { scopes: ['trades:write'] });
      expectError(await signedRequest(t, d, { path: TRADES }), 403, 'insufficient_scope');

      await patch(d, { scopes: ['signals.read', 'trades:write', 'zz.other'] });
      const res = await signedRequest(t, d, { path: TRADES }).expect(200);
      expect(res.body).toEqual({ deviceId: d.id });
    });

    it("needs none on the registry's own device routes", async () => {
      const d = await createDevice(t, owner);
      await signedRequest(t, d).expect(200);
      await signedRequest(t, d, { method: 'POST', path: '/api/v1/device/heartbeat' }).expect(204);
    });

    it('burns the nonce of a 403', async () => {
      const d = await createDevice(t, owner);
      const nonce = `scope-${randomUUID()}`;
      expectError(await signedRequest(t, d, { path: TRADES, nonce }), 403, 'insufficient_scope');
      await patch(d, { scopes: ['signals.read', 'trades:write'] });
      expectError(await signedRequest(t, d, { path: TRADES, nonce }), 401, 'nonce_replayed');
    });

    it('does not count 403 answers towards the per-IP limit of 401s', async () => {
      const d = await createDevice(t, owner);
      const ip = clientIp();
      for (let i = 0; i < 55; i++) {
        expectError(await signedRequest(t, d, { path: TRADES, ip }), 403, 'insufficient_scope');
      }
      await signedRequest(t, d, { ip }).expect(200);
    });

    it('counts 401 policy refusals towards the per-IP limit', async () => {
      const d = await createDevice(t, owner);
      await post(d, 'disable');
      const ip = clientIp();
      for (let i = 0; i < 50; i++) {
        expectError(await signedRequest(t, d, { ip }), 401, 'device_disabled');
      }
      await post(d, 'enable');
      expectError(await signedRequest(t, d, { ip }), 429, 'rate_limited');
      await signedRequest(t, d).expect(200);
    });
  });

  describe('scopes in forward auth (X-Required-Scopes)', () => {
    it('answers 403 insufficient_scope, with the body in X-Device-Auth-Error, when one is missing', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { scopes: ['orders:write'] });
      const res = await verify(d, { scopes: 'orders:write signals.read' });
      expectError(res, 403, 'insufficient_scope');
      expect(JSON.parse(res.headers['x-device-auth-error'] as string)).toEqual(res.body);
      expect(res.headers['x-device-scopes']).toBeUndefined();
    });

    it.each(['post', 'put', 'patch', 'delete'] as const)(
      'answers 403 insufficient_scope whatever method the proxy calls it with (%s)',
      async (via) => {
        const d = await createDevice(t, owner);
        expectError(await verify(d, { scopes: 'orders:write', via }), 403, 'insufficient_scope');
        await patch(d, { scopes: ['orders:write'] });
        await verify(d, { scopes: 'orders:write', via }).expect(200);
      },
    );

    it('answers 200 with X-Device-Scopes (all the device holds) when it holds every one', async () => {
      const d = await createDevice(t, owner);
      await patch(d, { scopes: ['signals.read', 'orders:write', 'admin.x'] });
      const res = await verify(d, { scopes: '  orders:write   signals.read ' }).expect(200);
      expect(res.headers['x-device-scopes']).toBe('admin.x orders:write signals.read');
      expect(res.body.scopes).toEqual(['admin.x', 'orders:write', 'signals.read']);
    });

    it('requires nothing without the header or with an empty one; X-Device-Scopes is then empty for a device without scopes', async () => {
      const d = await createDevice(t, owner);
      const res = await verify(d).expect(200);
      expect(res.headers['x-device-scopes']).toBe('');
      await verify(d, { scopes: '' }).expect(200);
    });

    it.each([
      ['an upper-case scope', 'Orders:write'],
      ['a scope with a comma', 'orders:write,signals.read'],
      ['a tab for a space', 'orders:write\tsignals.read'],
      ['more than 32 scopes', Array.from({ length: 33 }, (_, i) => `s${i}`).join(' ')],
    ])('refuses %s with 400 validation_failed, before the nonce is used', async (_, scopes) => {
      const d = await createDevice(t, owner);
      await patch(d, { scopes: ['orders:write'] });
      const nonce = `bad-scopes-${randomUUID()}`;
      expectError(await verify(d, { scopes, nonce }), 400, 'validation_failed');
      await verify(d, { nonce }).expect(200);
    });
  });

  it('counts the policy codes in device_auth_total', async () => {
    const sample = async (result: string) => {
      const text = (await request(t.server).get('/metrics').expect(200)).text;
      const m = new RegExp(`^device_auth_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    const codes = ['device_disabled', 'credential_expired', 'ip_not_allowed', 'insufficient_scope'];
    const before = await Promise.all(codes.map(sample));

    const disabled = await createDevice(t, owner);
    await post(disabled, 'disable');
    await signedRequest(t, disabled).expect(401);
    const expiring = await createDevice(t, owner);
    await patch(expiring, { expiresAt: new Date(Date.now() + 1000).toISOString() });
    await sleep(1100);
    await signedRequest(t, expiring).expect(401);
    const fenced = await createDevice(t, owner);
    await patch(fenced, { allowedCidrs: ['203.0.113.0/24'] });
    await signedRequest(t, fenced, { ip: '198.51.100.7' }).expect(401);
    const unscoped = await createDevice(t, owner);
    await signedRequest(t, unscoped, { path: TRADES }).expect(403);

    expect(await Promise.all(codes.map(sample))).toEqual(before.map((n) => n + 1));
  });

  it('documents the policy answers in the OpenAPI document', async () => {
    const doc = (await request(t.server).get('/docs-json').expect(200)).body;
    const me = doc.paths['/api/v1/device/me'].get;
    for (const code of ['device_disabled', 'credential_expired', 'ip_not_allowed']) {
      expect(me.responses['401'].description).toContain(code);
    }
    expect(me.responses['403']).toBeUndefined();
    const trades = doc.paths[TRADES].get;
    expect(trades.responses['403'].description).toContain('insufficient_scope');

    const v = doc.paths[VERIFY].get;
    expect(v.responses['401'].description).toContain('device_disabled');
    expect(v.responses['403'].description).toContain('insufficient_scope');
    expect(v.responses['200'].headers).toHaveProperty('X-Device-Scopes');
    expect(v.parameters.map((p: { name: string }) => p.name)).toContain('X-Required-Scopes');
  });
});
