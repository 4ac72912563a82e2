import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from './app';
import { createDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { clientIp, registerUser, TestUser } from './factories/users';
import { appWithUser } from './support/suite-app';

const KIB = 1024;

/** A JSON object of exactly `bytes` bytes: `{"name":"x","pad":"…"}`. */
function bodyOfSize(bytes: number): string {
  const skeleton = JSON.stringify({ name: 'x', pad: '' });
  return JSON.stringify({ name: 'x', pad: 'p'.repeat(bytes - skeleton.length) });
}

describe('error responses (e2e)', () => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => ({ t, user } = await appWithUser()));
  afterAll(() => t.close());

  const raw = (method: 'post' | 'patch', path: string, body: string, auth = true) => {
    const req = request(t.server)[method](path).set('Content-Type', 'application/json');
    if (auth) req.set(user.auth);
    return req.set('X-Forwarded-For', clientIp()).send(body);
  };

  describe('malformed JSON', () => {
    it.each([
      ['a truncated object', '{"name":'],
      ['a trailing comma', '{"name":"a",}'],
      ['single quotes', "{'name':'a'}"],
      ['plain text', 'name=a'],
      ['an empty body', ''],
    ])('is 400 validation_failed for %s, never a 500', async (_, body) => {
      expectError(await raw('post', '/api/v1/devices', body), 400, 'validation_failed');
      expectError(
        await raw('post', '/api/v1/auth/register', body, false),
        400,
        'validation_failed',
      );
      expectError(await raw('post', '/api/v1/auth/login', body, false), 400, 'validation_failed');
    });

    it('does not echo the body it could not parse', async () => {
      const password = `Unparsed-${randomUUID()}`;
      const res = await raw(
        'post',
        '/api/v1/auth/login',
        `{"email":"a@example.com","password":"${password}"`,
        false,
      );
      expectError(res, 400, 'validation_failed');
      expect(res.text).not.toContain(password);
    });

    it('is 400 on a device route with a body too', async () => {
      const device = await createDevice(t, user);
      expectError(
        await raw('patch', `/api/v1/devices/${device.id}`, '{"name"'),
        400,
        'validation_failed',
      );
      expectError(
        await raw('post', `/api/v1/devices/${device.id}/rotate-secret`, '{graceSeconds: 5}'),
        400,
        'validation_failed',
      );
    });
  });

  describe('unknown fields and wrong types', () => {
    it('rejects unknown body fields with 400, naming the field', async () => {
      const res = await raw('post', '/api/v1/devices', JSON.stringify({ name: 'a', owner: 'me' }));
      expectError(res, 400, 'validation_failed');
      expect(JSON.stringify(res.body.message)).toContain('owner');

      const nested = await raw(
        'post',
        '/api/v1/auth/register',
        JSON.stringify({ email: 'x@example.com', password: 'Zq8#mK2p-long', profile: { a: 1 } }),
        false,
      );
      expectError(nested, 400, 'validation_failed');
    });

    it.each([
      ['an array', '[]'],
      ['an array of objects', '[{"name":"a"}]'],
      ['a string', '"a"'],
      ['a number', '42'],
      ['true', 'true'],
      ['null', 'null'],
      ['a number for name', '{"name":1}'],
      ['an object for name', '{"name":{"first":"a"}}'],
      ['a boolean for name', '{"name":true}'],
    ])('rejects %s as the body of POST /devices with 400', async (_, body) => {
      expectError(await raw('post', '/api/v1/devices', body), 400, 'validation_failed');
    });

    it.each([
      ['a string', '"60"'],
      ['an array', '[60]'],
      ['a string for graceSeconds', '{"graceSeconds":"60"}'],
      ['a boolean for graceSeconds', '{"graceSeconds":true}'],
    ])('rejects %s as the body of rotate-secret with 400', async (_, body) => {
      const device = await createDevice(t, user);
      expectError(
        await raw('post', `/api/v1/devices/${device.id}/rotate-secret`, body),
        400,
        'validation_failed',
      );
    });

    it('answers 415 unsupported_media_type to a body that is not JSON', async () => {
      const res = await request(t.server)
        .post('/api/v1/devices')
        .set(user.auth)
        .set('Content-Type', 'text/plain')
        .send('name=a');
      expectError(res, 415, 'unsupported_media_type');
    });
  });

  describe('body size (owner routes: 16 KiB)', () => {
    it('answers 413 payload_too_large to a body over 16 KiB', async () => {
      const body = bodyOfSize(16 * KIB + 1);
      expect(Buffer.byteLength(body)).toBe(16 * KIB + 1);
      expectError(await raw('post', '/api/v1/devices', body), 413, 'payload_too_large');
      const device = await createDevice(t, user);
      expectError(
        await raw('patch', `/api/v1/devices/${device.id}`, body),
        413,
        'payload_too_large',
      );
      expectError(
        await raw('post', '/api/v1/auth/register', bodyOfSize(64 * KIB), false),
        413,
        'payload_too_large',
      );
    });

    it('reads a body of exactly 16 KiB (and judges it on its fields)', async () => {
      const body = bodyOfSize(16 * KIB);
      expect(Buffer.byteLength(body)).toBe(16 * KIB);
      const res = await raw('post', '/api/v1/devices', body);
      expectError(res, 400, 'validation_failed');
      expect(JSON.stringify(res.body.message)).toContain('pad');
    });
  });

  describe('routing', () => {
    it.each([
      ['GET', '/api/v1/nope'],
      ['GET', '/nope'],
      ['GET', '/api/v2/devices'],
      ['POST', '/api/v1/devices/list'],
      ['PUT', '/api/v1/devices'],
    ])('answers 404 with a code to %s %s', async (method, path) => {
      const res = await request(t.server)[method.toLowerCase() as 'get'](path).set(user.auth);
      expectError(res, 404, 'not_found');
    });
  });

  it('renders every error in exactly {statusCode, error, message, code}', async () => {
    const other = await registerUser(t);
    const device = await createDevice(t, user);
    const taken = await createDevice(t, user);
    await request(t.server).post(`/api/v1/devices/${taken.id}/revoke`).set(user.auth).expect(204);
    const cases: [request.Test, number, string][] = [
      [raw('post', '/api/v1/devices', JSON.stringify({ name: '' })), 400, 'validation_failed'],
      [request(t.server).get('/api/v1/devices/nope').set(user.auth), 400, 'validation_failed'],
      [request(t.server).get('/api/v1/devices'), 401, 'unauthorized'],
      [
        request(t.server)
          .post('/api/v1/auth/login')
          .send({ email: other.email, password: 'x'.repeat(9) }),
        401,
        'invalid_credentials',
      ],
      [request(t.server).get(`/api/v1/devices/${device.id}`).set(other.auth), 403, 'forbidden'],
      [
        request(t.server).get(`/api/v1/devices/${randomUUID()}`).set(user.auth),
        404,
        'device_not_found',
      ],
      [
        request(t.server)
          .post('/api/v1/auth/register')
          .set('X-Forwarded-For', clientIp())
          .send({ email: user.email, password: 'Zq8#mK2p-long' }),
        409,
        'email_taken',
      ],
      [
        request(t.server).post('/api/v1/devices').set(user.auth).send({ name: device.name }),
        409,
        'device_name_taken',
      ],
      [
        request(t.server).patch(`/api/v1/devices/${taken.id}`).set(user.auth).send({ name: 'n' }),
        409,
        'device_revoked',
      ],
      [raw('post', '/api/v1/devices', bodyOfSize(20 * KIB)), 413, 'payload_too_large'],
    ];
    for (const [req, status, code] of cases) expectError(await req, status, code);
  });
});
