import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, DEVICE_KEYS } from './factories/devices';
import { expectError } from './factories/errors';
import { registerUser } from './factories/users';

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Schema {
  $ref?: string;
  properties?: Record<string, Schema>;
  allOf?: Schema[];
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
}

/** The contract's tables: method, path, success status, failure statuses, body, bearer. */
const ROUTES: [string, string, number, number[], boolean, boolean][] = [
  ['post', '/api/v1/auth/register', 201, [400, 409], true, false],
  ['post', '/api/v1/auth/login', 200, [400, 401, 429], true, false],
  ['get', '/api/v1/auth/me', 200, [401], false, true],
  ['delete', '/api/v1/auth/me', 204, [401], false, true],
  ['post', '/api/v1/devices', 201, [400, 401, 409], true, true],
  ['get', '/api/v1/devices', 200, [400, 401], false, true],
  ['get', '/api/v1/devices/{id}', 200, [400, 401, 403, 404], false, true],
  ['patch', '/api/v1/devices/{id}', 200, [400, 401, 403, 404, 409], true, true],
  ['post', '/api/v1/devices/{id}/revoke', 204, [400, 401, 403, 404], false, true],
  ['post', '/api/v1/devices/{id}/disable', 204, [400, 401, 403, 404, 409], false, true],
  ['post', '/api/v1/devices/{id}/enable', 204, [400, 401, 403, 404, 409], false, true],
  ['post', '/api/v1/devices/{id}/rotate-secret', 200, [400, 401, 403, 404, 409], true, true],
  ['delete', '/api/v1/devices/{id}', 204, [400, 401, 403, 404], false, true],
  ['get', '/api/v1/devices/{id}/events', 200, [400, 401, 403, 404], false, true],
];

describe('operations: health, OpenAPI, metrics (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  describe('health', () => {
    it('GET /health/live answers 200 without a token', async () => {
      const res = await request(t.server).get('/health/live').expect(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('GET /health/ready answers 200 while the database answers', async () => {
      const res = await request(t.server).get('/health/ready').expect(200);
      expect(res.body.status).toBe('ok');
      expect(res.body.details.database.status).toBe('up');
    });
  });

  describe('OpenAPI', () => {
    let doc: OpenApi;
    beforeAll(async () => {
      doc = (await request(t.server).get('/docs-json').expect(200)).body;
    });

    const resolve = (schema: Schema): Schema => {
      if (!schema.$ref) return schema;
      return doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
    };
    // allOf parts may name a property again (an error response narrows `code`).
    const propertiesOf = (schema: Schema): string[] => {
      const s = resolve(schema);
      return [
        ...new Set([
          ...Object.keys(s.properties ?? {}),
          ...(s.allOf ?? []).flatMap((part) => propertiesOf(part)),
        ]),
      ].sort();
    };
    const operation = (method: string, path: string) => doc.paths[path]?.[method];

    it('is an OpenAPI 3 document with the bearer scheme', () => {
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
    });

    it.each(ROUTES)(
      '%s %s is documented with its responses and security',
      (method, path, success, failures, hasBody, bearer) => {
        const op = operation(method, path);
        expect(doc.paths[path]).toHaveProperty(method);
        expect(Object.keys(op.responses)).toEqual(
          expect.arrayContaining([success, ...failures].map(String)),
        );
        if (bearer) expect(op.security).toEqual(expect.arrayContaining([{ bearer: [] }]));
        else expect(op.security ?? []).not.toEqual(expect.arrayContaining([{ bearer: [] }]));
        if (hasBody) expect(op.requestBody?.content['application/json'].schema).toBeTruthy();
        if (success !== 204) {
          expect(op.responses[success].content?.['application/json'].schema).toBeTruthy();
        }
        for (const status of failures) {
          const schema = op.responses[status].content?.['application/json'].schema;
          expect(propertiesOf(schema!)).toEqual(['code', 'error', 'message', 'statusCode']);
        }
      },
    );

    it('documents the device without secret material, and the secret only where it is shown', () => {
      const schemaOf = (method: string, path: string, status: number) =>
        operation(method, path).responses[status].content!['application/json'].schema;
      expect(propertiesOf(schemaOf('get', '/api/v1/devices/{id}', 200))).toEqual(DEVICE_KEYS);
      expect(propertiesOf(schemaOf('patch', '/api/v1/devices/{id}', 200))).toEqual(DEVICE_KEYS);
      expect(propertiesOf(schemaOf('post', '/api/v1/devices', 201))).toEqual(
        [...DEVICE_KEYS, 'secret'].sort(),
      );
      expect(propertiesOf(schemaOf('post', '/api/v1/devices/{id}/rotate-secret', 200))).toEqual(
        [...DEVICE_KEYS, 'previousSecretExpiresAt', 'secret'].sort(),
      );
      expect(propertiesOf(schemaOf('get', '/api/v1/devices', 200))).toEqual([
        'items',
        'nextCursor',
      ]);
      expect(propertiesOf(schemaOf('get', '/api/v1/devices/{id}/events', 200))).toEqual([
        'items',
        'nextCursor',
      ]);
    });

    it('serves the Swagger UI at /docs', async () => {
      const res = await request(t.server).get('/docs').redirects(1).expect(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toContain('swagger');
    });
  });

  describe('metrics', () => {
    const scrape = async () => {
      const res = await request(t.server).get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      return res.text;
    };
    const counter = (text: string, name: string) => {
      const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
      expect(match).not.toBeNull();
      return Number(match![1]);
    };

    it('counts registered and revoked devices', async () => {
      const before = await scrape();
      const user = await registerUser(t);
      const devices = [await createDevice(t, user), await createDevice(t, user)];
      await request(t.server)
        .post(`/api/v1/devices/${devices[0].id}/revoke`)
        .set(user.auth)
        .expect(204);
      // A second revoke changes nothing, so it counts nothing.
      await request(t.server)
        .post(`/api/v1/devices/${devices[0].id}/revoke`)
        .set(user.auth)
        .expect(204);

      const after = await scrape();
      expect(counter(after, 'devices_registered_total')).toBe(
        counter(before, 'devices_registered_total') + 2,
      );
      expect(counter(after, 'devices_revoked_total')).toBe(
        counter(before, 'devices_revoked_total') + 1,
      );
      expect(after).toContain('# TYPE http_request_duration_seconds histogram');
    });

    it('records the duration of each answer by method, route pattern and status code', async () => {
      const series = (method: string, route: string, status: number) =>
        `http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`;
      const count = (text: string, name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        return line ? Number(line.slice(name.length + 1)) : 0;
      };
      const live = series('GET', '/health/live', 200);
      const device = series('GET', '/api/v1/devices/:id', 401);
      const unmatched = series('GET', 'unmatched', 404);
      const before = await scrape();

      await request(t.server).get('/health/live?probe=1').expect(200);
      await request(t.server).get('/health/live').expect(200);
      await request(t.server).get(`/api/v1/devices/${randomUUID()}`).expect(401);
      await request(t.server).get('/no/such/route').expect(404);

      const after = await scrape();
      expect(count(after, live)).toBe(count(before, live) + 2);
      expect(count(after, device)).toBe(count(before, device) + 1);
      expect(count(after, unmatched)).toBe(count(before, unmatched) + 1);
      // Cumulative buckets: the +Inf bucket is the count.
      const inf = live.replace('_count{', '_bucket{le="+Inf",');
      expect(count(after, inf)).toBe(count(after, live));
      expect(
        Number(
          /^http_request_duration_seconds_sum\{method="GET",route="\/health\/live",status_code="200"\} (\S+)$/m.exec(
            after,
          )?.[1],
        ),
      ).toBeGreaterThan(0);
    });
  });
});

describe('operations with settings (e2e)', () => {
  it('protects /metrics with METRICS_TOKEN when it is set', async () => {
    const t = await createTestApp({ env: { METRICS_TOKEN: 'metrics-token-for-tests' } });
    try {
      expectError(await request(t.server).get('/metrics'), 401, 'unauthorized');
      expectError(
        await request(t.server).get('/metrics').set('Authorization', 'Bearer wrong'),
        401,
        'unauthorized',
      );
      await request(t.server)
        .get('/metrics')
        .set('Authorization', 'Bearer metrics-token-for-tests')
        .expect(200);
    } finally {
      await t.close();
    }
  });

  it('answers /health/ready 503 once the database does not answer, while /health/live stays 200', async () => {
    const t = await createTestApp();
    try {
      await t.dataSource.destroy();
      const res = await request(t.server).get('/health/ready').expect(503);
      expect(res.body.code).toBe('service_unavailable');
      await request(t.server).get('/health/live').expect(200);
    } finally {
      await t.close();
    }
  });

  it('allows exactly the CORS_ORIGINS origins', async () => {
    const t = await createTestApp({
      env: { CORS_ORIGINS: 'https://app.example.com, https://ops.example.com' },
    });
    try {
      const preflight = (origin: string) =>
        request(t.server)
          .options('/api/v1/devices')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'POST')
          .set('Access-Control-Request-Headers', 'authorization,content-type');
      const allowed = await preflight('https://ops.example.com');
      expect(allowed.status).toBeLessThan(300);
      expect(allowed.headers['access-control-allow-origin']).toBe('https://ops.example.com');
      const other = await preflight('https://evil.example.com');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('sends no CORS headers when CORS_ORIGINS is unset', async () => {
    const t = await createTestApp();
    try {
      const res = await request(t.server)
        .get('/health/live')
        .set('Origin', 'https://app.example.com');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
