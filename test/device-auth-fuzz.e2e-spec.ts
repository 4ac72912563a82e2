import fc from 'fast-check';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { clientIp, registerUser } from './factories/users';

/** Printable ASCII without surrounding blanks: what an HTTP client can put in a header. */
const headerValue = fc
  .string({ unit: 'binary-ascii', maxLength: 160 })
  .map((s) => s.replace(/[^\x21-\x7e]/g, ''))
  .filter((s) => s.length > 0);

describe('device authentication under arbitrary input (property-based)', () => {
  let t: TestApp;
  let device: TestDevice;

  beforeAll(async () => {
    t = await createTestApp();
    device = await createDevice(t, await registerUser(t));
  });
  afterAll(() => t.close());

  it('answers 401, never a 5xx, to arbitrary headers and bodies', async () => {
    const now = Math.floor(Date.now() / 1000);
    const headers = fc.record(
      {
        'X-Device-Id': fc.oneof(fc.uuid(), fc.constant(device.id), headerValue),
        'X-Timestamp': fc.oneof(
          fc.integer({ min: now - 400, max: now + 400 }).map(String),
          headerValue,
        ),
        'X-Nonce': fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{16,128}$/), headerValue),
        'X-Signature': fc.oneof(
          fc
            .uint8Array({ minLength: 32, maxLength: 32 })
            .map((b) => Buffer.from(b).toString('base64')),
          headerValue,
        ),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 2000 }),
    );
    const route = fc.constantFrom(
      ['get', '/api/v1/device/me'] as const,
      ['post', '/api/v1/device/heartbeat'] as const,
      ['post', '/api/v1/device/heartbeat?x=%00%ff'] as const,
    );

    await fc.assert(
      fc.asyncProperty(headers, body, route, async (h, b, [method, path]) => {
        let req = request(t.server)[method](path).set(h).set('X-Forwarded-For', clientIp());
        if (b !== undefined) req = req.set('Content-Type', 'application/json').send(b);
        const res = await req;
        // A valid device id with a random signature counts towards that device's limit: 429 is fine too.
        expect([401, 429]).toContain(res.status);
        expect(res.body.code).toEqual(expect.any(String));
      }),
      { numRuns: 300 },
    );
  });
});
