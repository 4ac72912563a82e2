import { createHash, randomUUID } from 'node:crypto';
import request from 'supertest';
import { signRequest } from '../src/device-auth/signing';
import type { TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { clientIp, TestUser } from './factories/users';
import { lastSeenWithin } from './support/last-seen';
import { appWithDevice } from './support/suite-app';

const VERIFY = '/api/v1/device-auth/verify';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Original {
  /** The device's request, as signed. */
  method?: string;
  target?: string;
  body?: string;
  nonce?: string;
  timestamp?: number;
  secret?: string;
  /** How the proxy describes it: nginx (X-Original-*) or Traefik/Caddy (X-Forwarded-*). */
  convention?: 'original' | 'forwarded';
  /** The method of the verify call itself (proxies use GET). */
  verifyMethod?: 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
  verifyPath?: string;
  ip?: string;
  /** Headers set last, to tamper with. */
  headers?: Record<string, string>;
}

/** A proxy's forward-auth call about a device request signed with the reference signer. */
function verify(t: TestApp, device: Pick<TestDevice, 'id' | 'secret'>, o: Original = {}) {
  const method = o.method ?? 'POST';
  const target = o.target ?? '/api/orders?account=7';
  const body = o.body ?? (method === 'GET' ? undefined : '{"symbol":"EURUSD","lots":0.1}');
  const signed = signRequest({
    deviceId: device.id,
    secret: o.secret ?? device.secret,
    method,
    path: target,
    body,
    nonce: o.nonce,
    timestamp: o.timestamp,
  });
  const [m, u] =
    (o.convention ?? 'original') === 'original'
      ? ['X-Original-Method', 'X-Original-URI']
      : ['X-Forwarded-Method', 'X-Forwarded-Uri'];
  const agent = request(t.server);
  let req = agent[o.verifyMethod ?? 'get'](o.verifyPath ?? VERIFY)
    .set(signed)
    .set(m, method)
    .set(u, target)
    .set('X-Forwarded-For', o.ip ?? clientIp());
  if (o.headers) req = req.set(o.headers);
  return req;
}

describe('forward auth: /api/v1/device-auth/verify (e2e)', () => {
  let t: TestApp;
  let owner: TestUser;
  let device: TestDevice;

  beforeAll(async () => {
    ({ t, user: owner, device } = await appWithDevice({ deviceName: 'Büro EA ✓' }));
  });
  afterAll(() => t.close());

  describe('a correctly signed request', () => {
    it('is 200 with the device as GET /device/me shows it, and the three headers for the proxy', async () => {
      const res = await verify(t, device).expect(200);
      const me = await signedRequest(t, device).expect(200);
      // lastSeenAt may have been written in between.
      expect({ ...res.body, lastSeenAt: null }).toEqual({ ...me.body, lastSeenAt: null });
      expect(res.body).toMatchObject({ id: device.id, ownerId: owner.id, name: 'Büro EA ✓' });
      expect(res.headers['x-device-id']).toBe(device.id);
      expect(res.headers['x-device-owner-id']).toBe(owner.id);
      expect(res.headers['x-device-name']).toBe('B%C3%BCro%20EA%20%E2%9C%93');
      expect(decodeURIComponent(res.headers['x-device-name'])).toBe('Büro EA ✓');
      expect(JSON.stringify(res.body)).not.toContain(device.secret.slice(4));
    });

    it.each(['original', 'forwarded'] as const)(
      'is understood in the %s header convention',
      async (convention) => {
        await verify(t, device, { convention }).expect(200);
        await verify(t, device, { convention, method: 'GET', target: '/api/quotes' }).expect(200);
      },
    );

    it.each(['get', 'head', 'post', 'put', 'patch', 'delete'] as const)(
      'is verified whatever the method of the verify call (%s)',
      async (verifyMethod) => {
        const res = await verify(t, device, { verifyMethod }).expect(200);
        expect(res.headers['x-device-id']).toBe(device.id);
      },
    );

    it.each(['PUT', 'PATCH', 'DELETE', 'GET'])('covers an original %s', async (method) => {
      await verify(t, device, { method, target: `/api/orders/${randomUUID()}` }).expect(200);
    });

    it('ignores the query string and the body of the verify call itself', async () => {
      // Caddy appends the original query to the verify URI.
      await verify(t, device, { verifyPath: `${VERIFY}?account=7&x=1` }).expect(200);
      await verify(t, device, { verifyMethod: 'post' })
        .set('Content-Type', 'application/json')
        .send('{not json')
        .expect(200);
      await verify(t, device, { verifyMethod: 'put' })
        .set('Content-Type', 'text/plain')
        .send('anything')
        .expect(200);
    });

    it('checks the original target as sent: query string and percent-encoding included', async () => {
      await verify(t, device, { method: 'GET', target: '/api/q?a=1&b=%20x' }).expect(200);
    });

    it('burns the nonce: the same request again is nonce_replayed, here and on the device routes', async () => {
      const nonce = `fwd-${randomUUID()}`;
      await verify(t, device, { nonce }).expect(200);
      expectError(await verify(t, device, { nonce }), 401, 'nonce_replayed');
      expectError(await signedRequest(t, device, { nonce }), 401, 'nonce_replayed');
    });

    it('updates lastSeenAt', async () => {
      const d = await createDevice(t, owner);
      await verify(t, d).expect(200);
      const lastSeenAt = await lastSeenWithin(t, owner, d.id, 5000);
      expect(lastSeenAt).not.toBeNull();
    });
  });

  describe('X-Content-SHA256', () => {
    it('absent stands for the empty body', async () => {
      await verify(t, device, { method: 'POST', body: '' }).expect(200);
      const res = await verify(t, device, {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'X-Content-SHA256': '' },
      });
      expectError(res, 401, 'device_auth_malformed');
    });

    it('of another body than the one signed is invalid_signature', async () => {
      const res = await verify(t, device, {
        headers: { 'X-Content-SHA256': sha256('{"lots":100}') },
      });
      expectError(res, 401, 'invalid_signature');
    });

    it.each([
      ['upper-case hex', sha256('{}').toUpperCase()],
      ['63 characters', sha256('{}').slice(1)],
      ['base64', Buffer.from(sha256('{}'), 'hex').toString('base64')],
    ])('that is %s is device_auth_malformed', async (_, value) => {
      expectError(
        await verify(t, device, { headers: { 'X-Content-SHA256': value } }),
        401,
        'device_auth_malformed',
      );
    });
  });

  describe('refusals', () => {
    it('answers 400 validation_failed without a method or a target header', async () => {
      const signed = signRequest({
        deviceId: device.id,
        secret: device.secret,
        method: 'GET',
        path: '/x',
      });
      expectError(await request(t.server).get(VERIFY).set(signed), 400, 'validation_failed');
      expectError(
        await request(t.server).get(VERIFY).set(signed).set('X-Original-Method', 'GET'),
        400,
        'validation_failed',
      );
      expectError(
        await request(t.server).get(VERIFY).set(signed).set('X-Forwarded-Uri', '/x'),
        400,
        'validation_failed',
      );
    });

    it('answers 400 when the two conventions disagree: a client cannot slip in another target', async () => {
      // The proxy describes POST /api/orders; the client added an X-Original-URI of its own.
      const res = await verify(t, device, {
        convention: 'forwarded',
        headers: { 'X-Original-URI': '/api/harmless' },
      });
      expectError(res, 400, 'validation_failed');
      const agreeing = await verify(t, device, {
        convention: 'forwarded',
        headers: { 'X-Original-URI': '/api/orders?account=7', 'X-Original-Method': 'POST' },
      });
      expect(agreeing.status).toBe(200);
    });

    it.each<[string, Original, string]>([
      ['no signature headers', { headers: { 'X-Signature': '' } }, 'device_auth_malformed'],
      [
        'an old timestamp',
        { timestamp: Math.floor(Date.now() / 1000) - 3600 },
        'timestamp_out_of_range',
      ],
      ['another secret', { secret: 'dvs_wrong' }, 'invalid_signature'],
      [
        'another original target',
        { headers: { 'X-Original-URI': '/api/orders?account=8' } },
        'invalid_signature',
      ],
      [
        'another original method',
        { headers: { 'X-Original-Method': 'DELETE' } },
        'invalid_signature',
      ],
    ])(
      'answers 401 for %s, with the error body also in X-Device-Auth-Error',
      async (_, o, code) => {
        const res = await verify(t, device, o);
        expectError(res, 401, code);
        expect(JSON.parse(res.headers['x-device-auth-error'])).toEqual(res.body);
        expect(res.headers['x-device-id']).toBeUndefined();
        expect(res.headers['x-device-owner-id']).toBeUndefined();
      },
    );

    it('answers 401 invalid_signature for a revoked device', async () => {
      const d = await createDevice(t, owner);
      await verify(t, d).expect(200);
      await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
      expectError(await verify(t, d), 401, 'invalid_signature');
    });
  });

  describe('limits, per original client', () => {
    it('after 50 failures from one client: 429 with Retry-After for it, other clients behind the same proxy unaffected', async () => {
      const bad = '203.0.113.50';
      for (let i = 0; i < 50; i++) {
        expect((await verify(t, device, { ip: bad, secret: 'dvs_wrong' })).status).toBe(401);
      }
      const blocked = await verify(t, device, { ip: bad });
      expectError(blocked, 429, 'rate_limited');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(blocked.headers['x-device-auth-error'])).toEqual(blocked.body);
      // Every request came from this test's socket (one proxy): only the
      // original client, from X-Forwarded-For, is blocked.
      await verify(t, device, { ip: '203.0.113.51' }).expect(200);
    });
  });

  it('counts results in device_auth_total like the device routes', async () => {
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toMatch(/device_auth_total\{result="nonce_replayed"\} [1-9]/);
    expect(res.text).toMatch(/device_auth_total\{result="rate_limited"\} [1-9]/);
  });

  it('is described in the OpenAPI document with its headers and answers', async () => {
    const doc = (await request(t.server).get('/docs-json').expect(200)).body;
    const path = doc.paths['/api/v1/device-auth/verify'];
    expect(Object.keys(path).sort()).toEqual(['delete', 'get', 'patch', 'post', 'put']);
    interface Operation {
      parameters: { in: string; name: string }[];
      responses: Record<string, { headers?: Record<string, unknown> }>;
      security: unknown;
    }
    for (const [method, op] of Object.entries(path) as [string, Operation][]) {
      const headers = op.parameters.filter((p) => p.in === 'header').map((p) => p.name);
      expect(headers).toEqual(
        expect.arrayContaining([
          'X-Forwarded-Method',
          'X-Original-Method',
          'X-Forwarded-Uri',
          'X-Original-URI',
          'X-Content-SHA256',
          'X-Required-Scopes',
        ]),
      );
      // A GET's body is never read, so only the other methods can answer 413.
      const statuses = [
        '200',
        '400',
        '401',
        '403',
        '429',
        '503',
        ...(method === 'get' ? [] : ['413']),
      ];
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(statuses));
      expect(Object.keys(op.responses['200'].headers ?? {})).toEqual([
        'X-Device-Id',
        'X-Device-Owner-Id',
        'X-Device-Name',
        'X-Device-Scopes',
        'X-Request-Id',
      ]);
      expect(op.security).toEqual([{ deviceSignature: [] }]);
    }
  });
});
