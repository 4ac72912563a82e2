import { randomUUID } from 'node:crypto';
import { IncomingHttpHeaders, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { expectError } from './factories/errors';
import { clientIp, registerUser } from './factories/users';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OWNER_REQUESTS_PER_MINUTE = 5;

interface LogLine {
  level: number;
  reqId?: string;
  msg?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

/** A POST whose body is sent 50 ms after its headers. */
async function slowPost(
  t: TestApp,
  path: string,
  { body, ...headers }: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const server = t.server as Server;
  if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { port, path, method: 'POST', headers: { ...headers, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.flushHeaders();
    setTimeout(() => req.end(body), 50);
  });
}

/**
 * What an operator expects of every answer: a request id to quote, the same
 * id on every log line of that request, security headers, and the owner rate
 * limit they configured.
 */
describe('request ids, security headers and the owner rate limit (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      env: { OWNER_REQUESTS_PER_MINUTE: String(OWNER_REQUESTS_PER_MINUTE) },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const linesOf = (reqId: string): LogLine[] =>
    t.logs.map((l) => JSON.parse(l) as LogLine).filter((l) => l.reqId === reqId);

  /** Responses of every kind: success, not found, unauthenticated, bad body, too large, wrong type. */
  const answers: [string, () => request.Test, number][] = [
    ['200', () => request(t.server).get('/health/live'), 200],
    ['404', () => request(t.server).get('/api/v1/nothing-here'), 404],
    ['401', () => request(t.server).get('/api/v1/auth/me'), 401],
    [
      '400 (invalid JSON)',
      () =>
        request(t.server)
          .post('/api/v1/auth/login')
          .set('X-Forwarded-For', clientIp())
          .set('Content-Type', 'application/json')
          .send('{"email":'),
      400,
    ],
    [
      '413',
      () =>
        request(t.server)
          .post('/api/v1/auth/register')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ pad: 'x'.repeat(20_000) })),
      413,
    ],
    [
      '415',
      () =>
        request(t.server)
          .post('/api/v1/auth/login')
          .set('Content-Type', 'text/plain')
          .send('hello'),
      415,
    ],
    ['the Swagger UI', () => request(t.server).get('/docs'), 200],
  ];

  describe('X-Request-Id', () => {
    it.each(answers)('is echoed on a %s answer', async (_, send, status) => {
      const id = `op-${randomUUID()}`;
      const res = await send().set('X-Request-Id', id);
      expect(res.status).toBe(status);
      expect(res.headers['x-request-id']).toBe(id);
    });

    it.each(answers)('is generated (a UUID) for a %s answer without one', async (_, send) => {
      const res = await send();
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it.each([
      ['a UUID', randomUUID()],
      ['a W3C trace id with span', '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7'],
      ['one character', 'a'],
      ['128 characters', 'A'.repeat(128)],
      ['dots, dashes and underscores', 'edge-lb.req_123'],
    ])('keeps %s', async (_, id) => {
      const res = await request(t.server).get('/health/live').set('X-Request-Id', id).expect(200);
      expect(res.headers['x-request-id']).toBe(id);
    });

    it.each([
      ['129 characters', 'A'.repeat(129)],
      ['spaces', 'my request'],
      ['markup', '<script>alert(1)</script>'],
      ['a log-line break attempt', 'abc\\n{"level":60}'],
      ['non-ASCII', 'réquest'],
    ])('replaces one with %s by a fresh UUID', async (_, id) => {
      const res = await request(t.server).get('/health/live').set('X-Request-Id', id).expect(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(t.logs.join('\n')).not.toContain(id);
    });

    it('differs between requests that bring none', async () => {
      const ids = await Promise.all(
        [1, 2, 3].map(
          async () => (await request(t.server).get('/health/live')).headers['x-request-id'],
        ),
      );
      expect(new Set(ids).size).toBe(3);
    });

    it('is on the line that logs the request', async () => {
      const id = `log-${randomUUID()}`;
      await request(t.server).get('/api/v1/auth/me').set('X-Request-Id', id).expect(401);
      expect(linesOf(id)).toEqual([
        expect.objectContaining({
          msg: 'request completed',
          req: { method: 'GET', url: '/api/v1/auth/me' },
          res: { statusCode: 401 },
        }),
      ]);
    });
  });

  describe('security headers', () => {
    const directivesOf = (res: request.Response) =>
      new Map(
        (res.headers['content-security-policy'] as string).split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );

    it.each(answers.filter(([name]) => name !== 'the Swagger UI'))(
      'are on a %s answer: the strict set of a JSON API',
      async (_, send, status) => {
        const res = await send();
        expect(res.status).toBe(status);
        expect(res.headers).toMatchObject({
          'x-content-type-options': 'nosniff',
          'cross-origin-resource-policy': 'same-origin',
          'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
        });
        // Nothing may load, run or frame an answer that is only ever data.
        expect([...directivesOf(res)]).toEqual([
          ['default-src', ["'none'"]],
          ['frame-ancestors', ["'none'"]],
        ]);
        // Headers that act only on pages are left off.
        for (const name of ['x-frame-options', 'cross-origin-opener-policy', 'x-xss-protection']) {
          expect(res.headers[name]).toBeUndefined();
        }
      },
    );

    it.each(['/docs', '/docs/swagger-ui.css', '/docs-json', '/docs/nothing-here'])(
      "are helmet's page set on %s, under which Swagger UI runs",
      async (path) => {
        const res = await request(t.server).get(path);
        expect(res.headers).toMatchObject({
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'SAMEORIGIN',
          'referrer-policy': 'no-referrer',
          'cross-origin-opener-policy': 'same-origin',
          'cross-origin-resource-policy': 'same-origin',
          'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
        });
        const directives = directivesOf(res);
        expect(directives.get('default-src')).toEqual(["'self'"]);
        // No inline or foreign script, not even on /docs.
        expect(directives.get('script-src')).toEqual(["'self'"]);
        expect(directives.get('script-src-attr')).toEqual(["'none'"]);
        expect(directives.get('object-src')).toEqual(["'none'"]);
        // Plain HTTP behind a TLS proxy, or on a private address, must still load /docs.
        expect(directives.has('upgrade-insecure-requests')).toBe(false);
      },
    );
  });

  describe('OWNER_REQUESTS_PER_MINUTE', () => {
    it(`lets a user make ${OWNER_REQUESTS_PER_MINUTE} owner requests a minute, then answers 429`, async () => {
      const user = await registerUser(t);
      const other = await registerUser(t);
      for (let i = 0; i < OWNER_REQUESTS_PER_MINUTE; i++) {
        await request(t.server).get('/api/v1/auth/me').set(user.auth).expect(200);
      }
      const res = await request(t.server).get('/api/v1/auth/me').set(user.auth);
      expectError(res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['x-request-id']).toMatch(UUID);
      // Per user: another user is not limited by the first one's requests.
      await request(t.server).get('/api/v1/auth/me').set(other.auth).expect(200);
    });
  });

  // Last: it breaks the database connection of this app.
  describe('a 5xx', () => {
    it('is logged (warn: the database is closed; error: a bug) with the request id, for a GET and for a request with a body', async () => {
      await t.dataSource.destroy();

      const get = `fail-get-${randomUUID()}`;
      const getRes = await request(t.server).get('/health/ready').set('X-Request-Id', get);
      // The body follows the headers in a later packet, as from a slow client.
      const post = `fail-post-${randomUUID()}`;
      const postRes = await slowPost(t, '/api/v1/auth/login', {
        'x-forwarded-for': clientIp(),
        'x-request-id': post,
        body: JSON.stringify({ email: 'nobody@example.com', password: 'long-enough-password' }),
      });

      for (const [id, res] of [
        [get, getRes],
        [post, postRes],
      ] as const) {
        expect(res.status).toBeGreaterThanOrEqual(500);
        expect(res.headers['x-request-id']).toBe(id);
        expect(linesOf(id).filter((l) => l.level >= 40)).not.toHaveLength(0);
      }
      // The request line too (readiness probes have none).
      expect(linesOf(post).find((l) => l.msg === 'request completed')?.res?.statusCode).toBe(
        postRes.status,
      );
    });
  });
});
