import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PoolClient } from 'pg';
import request from 'supertest';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { generateOpenApi } from '../src/cli/openapi';
import { ErrorCode } from '../src/common/error-codes';
import { signRequest } from '../src/device-auth/signing';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { clientIp, registerUser, TestUser } from './factories/users';
import {
  doc,
  documents,
  exampleBody,
  fill,
  isDeviceRoute,
  isOneDeviceRoute,
  isOwnerRoute,
  OPENAPI_FILE,
  Op,
  operations,
  Schema,
} from './support/openapi-document';

/** The codes the document lists for one response. */
function documentedCodes(o: Op, status: number): unknown[] {
  const schema = o.op.responses[String(status)]?.content?.['application/json']?.schema;
  return schema?.allOf?.[1]?.properties?.code?.enum ?? [];
}

/** The contract's error body, with a code the document lists for this route and status. */
function expectDocumentedError(o: Op, res: request.Response, status: number, code: string) {
  expectError(res, status, code);
  expect(documentedCodes(o, status)).toContain(code);
}

/** Forward auth's routes take the request they verify from headers; the original here is GET /orders. */
const describesRequest = (o: Op) =>
  o.op.parameters?.some((p) => p.name === 'X-Forwarded-Method') ?? false;
const FORWARDED = { 'X-Forwarded-Method': 'GET', 'X-Forwarded-Uri': '/orders' };

/** A signed device request to `o`: for forward auth, signed as the request it describes. */
function signedCall(t: TestApp, device: TestDevice, o: Op, ip?: string) {
  const method = o.method.toUpperCase() as 'GET';
  return describesRequest(o)
    ? signedRequest(t, device, {
        method: 'GET',
        path: '/orders',
        sendMethod: method,
        sendPath: o.path,
        headers: FORWARDED,
        ip,
      })
    : signedRequest(t, device, { method, path: o.path, ip });
}

describe('OpenAPI document (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is committed as openapi.json exactly as `npm run openapi` generates it, and served at /docs-json', async () => {
    const fresh = await generateOpenApi();
    if (readFileSync(OPENAPI_FILE, 'utf8') !== fresh) {
      throw new Error('openapi.json is out of date: run `npm run openapi` and commit it');
    }
    const served = await request(t.server).get('/docs-json').expect(200);
    expect(served.body).toEqual(JSON.parse(fresh));
  });

  it('documents every route the app serves, and serves every route it documents', () => {
    const served = new Set(
      t.routes.filter(
        (r) =>
          !/^\w+ \/docs($|[-/])/.test(r) && !r.startsWith('HEAD ') && !r.startsWith('OPTIONS '),
      ),
    );
    const documented = new Set(operations.map((o) => `${o.method.toUpperCase()} ${o.path}`));
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it('gives every operation a unique camelCase operationId', () => {
    const ids = operations.map((o) => o.op.operationId);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows an example of every request body', () => {
    const resolve = (s: Schema) => (s.$ref ? doc.components.schemas[s.$ref.split('/').pop()!] : s);
    for (const o of operations.filter((x) => x.op.requestBody)) {
      for (const media of Object.values(o.op.requestBody!.content)) {
        const schema = resolve(media.schema);
        const hasExample =
          media.example !== undefined ||
          schema.example !== undefined ||
          Object.values(schema.properties ?? {}).every((p) => p.example !== undefined);
        expect({ operation: o.name, hasExample }).toEqual({ operation: o.name, hasExample: true });
      }
    }
  });

  it('lists known codes on every error response, Retry-After on 429 and 503, X-Request-Id everywhere', () => {
    const known = Object.values(ErrorCode) as unknown[];
    for (const o of operations) {
      for (const [status, response] of Object.entries(o.op.responses)) {
        expect(response.headers?.['X-Request-Id']).toBeDefined();
        if (status === '429' || status === '503')
          expect(response.headers?.['Retry-After']).toBeDefined();
        if (Number(status) < 400) continue;
        const codes = documentedCodes(o, Number(status));
        expect({ route: `${o.name} ${status}`, listed: codes.length > 0 }).toEqual({
          route: `${o.name} ${status}`,
          listed: true,
        });
        for (const code of codes) expect(known).toContain(code);
      }
    }
  });
});

/**
 * The errors every route of a kind can give, with the cases taken from the
 * document: a new route is tested as soon as it is documented.
 */
describe('documented errors of every route (e2e)', () => {
  let t: TestApp;
  let owner: TestUser;
  let other: TestUser;
  let device: TestDevice;
  let othersDevice: TestDevice;

  beforeAll(async () => {
    t = await createTestApp();
    [owner, other] = [await registerUser(t), await registerUser(t)];
    device = await createDevice(t, owner);
    othersDevice = await createDevice(t, other);
  });
  afterAll(() => t.close());

  const call = (o: Op, id = device.id) => {
    const method = o.method as 'get' | 'post' | 'patch' | 'delete';
    return request(t.server)[method](fill(o, id)).set('X-Forwarded-For', clientIp());
  };

  const ownerRoutes = operations.filter((o) => isOwnerRoute(o) && documents(o, 401));
  it.each(ownerRoutes.map((o) => [o.name, o]))(
    '%s: 401 unauthorized without a token',
    async (_, o) => {
      expectDocumentedError(o, await call(o), 401, 'unauthorized');
    },
  );

  const deviceRoutes = operations.filter((o) => isDeviceRoute(o) && documents(o, 401));
  it.each(deviceRoutes.map((o) => [o.name, o]))(
    '%s: 401 device_auth_malformed without a signature',
    async (_, o) => {
      const req = call(o);
      if (describesRequest(o)) req.set(FORWARDED);
      expectDocumentedError(o, await req, 401, 'device_auth_malformed');
    },
  );

  // Every route of one device, whatever it documents: a route that forgets to
  // document (or to answer) 400, 403 or 404 fails here.
  const idRoutes = operations.filter(isOneDeviceRoute);
  it('finds the routes of one device in the document', () => {
    expect(idRoutes.length).toBeGreaterThanOrEqual(8);
    for (const o of operations.filter((x) => isOwnerRoute(x) && x.path.includes('{id}'))) {
      expect(idRoutes).toContain(o);
    }
  });
  it.each(idRoutes.map((o) => [o.name, o]))(
    '%s: 400 validation_failed for an id that is not a UUID',
    async (_, o) => {
      expectDocumentedError(
        o,
        await call(o, 'not-a-uuid').set(owner.auth),
        400,
        'validation_failed',
      );
    },
  );
  it.each(idRoutes.map((o) => [o.name, o]))(
    "%s: 403 forbidden for another user's device",
    async (_, o) => {
      expectDocumentedError(o, await call(o, othersDevice.id).set(owner.auth), 403, 'forbidden');
    },
  );
  it.each(idRoutes.map((o) => [o.name, o]))(
    '%s: 404 device_not_found for an unknown id',
    async (_, o) => {
      expectDocumentedError(
        o,
        await call(o, randomUUID()).set(owner.auth),
        404,
        'device_not_found',
      );
    },
  );

  const forwardAuth = operations.filter(describesRequest);
  it.each(forwardAuth.filter((o) => documents(o, 400)).map((o) => [o.name, o]))(
    '%s: 400 validation_failed without the description of the original request',
    async (_, o) => {
      const signed = signRequest({
        deviceId: device.id,
        secret: device.secret,
        method: 'GET',
        path: '/orders',
      });
      expectDocumentedError(o, await call(o).set(signed), 400, 'validation_failed');
    },
  );
  it.each(forwardAuth.filter((o) => documents(o, 413)).map((o) => [o.name, o]))(
    '%s: 413 payload_too_large for a body over 4 KiB (proxies send none)',
    async (_, o) => {
      const res = await call(o)
        .set(FORWARDED)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ pad: 'p'.repeat(4096) }));
      expectDocumentedError(o, res, 413, 'payload_too_large');
    },
  );

  /** A request with this raw body and content type: signed on device routes, with a token on owner routes. */
  const withBody = (o: Op, body: string, contentType = 'application/json') => {
    const req = call(o).set('Content-Type', contentType);
    if (isDeviceRoute(o)) {
      const signed = { method: o.method, path: o.path, body };
      return req
        .set(signRequest({ deviceId: device.id, secret: device.secret, ...signed }))
        .send(body);
    }
    return (isOwnerRoute(o) ? req.set(owner.auth) : req).send(body);
  };
  const bodyRoutes = operations.filter((o) => o.op.requestBody);

  it.each(bodyRoutes.filter((o) => documents(o, 400)).map((o) => [o.name, o]))(
    '%s: 400 validation_failed for a body that is not JSON',
    async (_, o) => {
      expectDocumentedError(o, await withBody(o, '{"name":'), 400, 'validation_failed');
    },
  );
  it.each(bodyRoutes.filter((o) => documents(o, 413)).map((o) => [o.name, o]))(
    '%s: 413 payload_too_large for a body over the limit',
    async (_, o) => {
      const body = JSON.stringify({ pad: 'p'.repeat(isDeviceRoute(o) ? 4096 : 16384) });
      expectDocumentedError(o, await withBody(o, body), 413, 'payload_too_large');
    },
  );
  it.each(bodyRoutes.filter((o) => documents(o, 415)).map((o) => [o.name, o]))(
    '%s: 415 unsupported_media_type for a body that is not JSON',
    async (_, o) => {
      expectDocumentedError(
        o,
        await withBody(o, 'name=x', 'text/plain'),
        415,
        'unsupported_media_type',
      );
    },
  );

  it('429 rate_limited with Retry-After on every owner route once a user has used up the minute', async () => {
    const user = await registerUser(t);
    const limited = operations.filter((o) => isOwnerRoute(o) && documents(o, 429));
    // The per-user limit counts every owner route together.
    for (let status = 200; status !== 429;) {
      status = (await request(t.server).get('/api/v1/auth/me').set(user.auth)).status;
    }
    for (const o of limited) {
      const res = await call(o).set(user.auth);
      expectDocumentedError(o, res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('429 rate_limited with Retry-After on every device route once an IP has had 50 failures', async () => {
    const ip = clientIp();
    const limited = operations.filter((o) => isDeviceRoute(o) && documents(o, 429));
    for (let status = 401; status !== 429;) {
      status = (await signedRequest(t, device, { secret: 'dvs_wrong', ip })).status;
    }
    for (const o of limited) {
      const res = await signedCall(t, device, o, ip);
      expectDocumentedError(o, res, 429, 'rate_limited');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});

/** 503 service_unavailable with Retry-After on every route that documents it, while no connection is free. */
describe('documented 503 of every route (e2e)', () => {
  let t: TestApp;
  let owner: TestUser;
  let device: TestDevice;
  const held: PoolClient[] = [];

  beforeAll(async () => {
    t = await createTestApp({ env: { DATABASE_POOL_TIMEOUT_MS: '300' } });
    owner = await registerUser(t);
    device = await createDevice(t, owner);
  });
  afterAll(async () => {
    for (const c of held.splice(0)) c.release();
    await t.close();
  });

  it('answers 503 service_unavailable with Retry-After on every route that documents it', async () => {
    const pool = (t.dataSource.driver as PostgresDriver).master as {
      options: { max: number };
      connect(): Promise<PoolClient>;
    };
    for (let i = 0; i < pool.options.max; i++) held.push(await pool.connect());
    const routes = operations.filter((o) => documents(o, 503));
    expect(routes.length).toBeGreaterThan(0);
    for (const o of routes) {
      const method = o.method as 'get' | 'post' | 'patch' | 'delete';
      let req;
      if (isDeviceRoute(o)) {
        req = signedCall(t, device, o);
      } else {
        req = request(t.server)[method](fill(o, device.id)).set('X-Forwarded-For', clientIp());
        if (isOwnerRoute(o)) req = req.set(owner.auth);
        else if (o.op.requestBody) req = req.send(exampleBody(o));
      }
      const res = await req;
      expect({ route: o.name, status: res.status }).toEqual({ route: o.name, status: 503 });
      expectDocumentedError(o, res, 503, 'service_unavailable');
      const retryAfter = Number(res.headers['retry-after']);
      expect({ route: o.name, retryAfter: retryAfter >= 1 }).toEqual({
        route: o.name,
        retryAfter: true,
      });
    }
  });
});
