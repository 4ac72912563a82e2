import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { clientIp, registerUser, TestUser } from './factories/users';

// Arbitrary JSON to every owner route (and to register and login): the answer
// is a 2xx, or a 4xx with the contract's error body; never a 5xx.

const ERROR_KEYS = ['code', 'error', 'message', 'statusCode'];

/** Strings with what breaks naive code: lone surrogates, NFD forms, control characters, prototype names. */
const oddString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '\ud800',
    'x\udfffy',
    '\ud83d',
    'cafe\u0301',
    '\u0000',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '',
    ' ',
    'a'.repeat(300),
  ),
);

/** A key the DTOs know, or any other. */
const key = fc.oneof(
  fc.constantFrom('name', 'email', 'password', 'graceSeconds', '__proto__', 'constructor'),
  oddString,
);

const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'large', maxDepth: 40 },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    oddString,
    fc.array(tie('json'), { maxLength: 5 }),
    fc.dictionary(key, tie('json'), { maxKeys: 6 }),
  ),
}));

/** A body: serialized arbitrary JSON, a wide object, or one nested around a field. */
const body = fc.oneof(
  fc.dictionary(key, json, { maxKeys: 8 }).map((o) => JSON.stringify(o)),
  json.map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.integer({ min: 1, max: 200 }), fc.constantFrom('name', 'password', 'graceSeconds'))
    .map(([depth, field]) => `{"${field}":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc
    .integer({ min: 1, max: 400 })
    .map((n) =>
      JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
    ),
  // Literally written prototype keys (JSON.stringify cannot produce an own __proto__).
  fc
    .tuple(oddString, json)
    .map(
      ([name, v]) => `{"name":${JSON.stringify(name)},"__proto__":${JSON.stringify(v) ?? 'null'}}`,
    ),
);

describe('owner routes under arbitrary JSON (property-based)', () => {
  let t: TestApp;
  let user: TestUser;
  let device: TestDevice;

  beforeAll(async () => {
    t = await createTestApp();
    user = await registerUser(t);
    device = await createDevice(t, user);
  });
  afterAll(() => t.close());

  const routes = (): [string, string, boolean][] => [
    ['post', '/api/v1/auth/register', false],
    ['post', '/api/v1/auth/login', false],
    ['post', '/api/v1/devices', true],
    ['patch', `/api/v1/devices/${device.id}`, true],
    ['post', `/api/v1/devices/${device.id}/rotate-secret`, true],
    ['post', `/api/v1/devices/${device.id}/revoke`, true],
    ['delete', `/api/v1/devices/${device.id}`, true],
  ];

  it('answers 2xx, or 4xx with the contract body, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: routes().length - 1 }),
        body,
        async (index, payload) => {
          const [method, path, auth] = routes()[index];
          const agent = request(t.server);
          const req = agent[method as 'post' | 'patch' | 'delete'](path)
            .set('Content-Type', 'application/json')
            .set('X-Forwarded-For', clientIp());
          if (auth) req.set(user.auth);
          const res = await req.send(payload);
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(Object.keys(res.body).sort()).toEqual(ERROR_KEYS);
            expect(res.body.statusCode).toBe(res.status);
            expect(typeof res.body.code).toBe('string');
          }
          // Keep a live device for the device routes.
          if (['revoke', 'delete'].some((w) => path.endsWith(w) || method === w)) {
            if (res.status < 300) device = await createDevice(t, user);
          }
        },
      ),
      { numRuns: 250 },
    );
  }, 240_000);
});
