import { createServer, Server, Socket, connect } from 'node:net';
import { Client } from 'pg';
import type { PoolClient } from 'pg';
import request from 'supertest';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { QUERY_TIMEOUT_MARGIN_MS } from '../src/database/data-source-options';
import { createTestApp, ON_POSTGRES, TestApp } from './app';
import type { TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { clientIp, login, newCredentials, TestUser } from './factories/users';
import { appWithDevice } from './support/suite-app';

// A database that does not answer is a 503 service_unavailable with
// Retry-After on every route: never a 401 (clients would throw good tokens
// away) and never a 500.

const onPostgres = ON_POSTGRES;

function expect503(res: request.Response) {
  expectError(res, 503, 'service_unavailable');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

/** One request of every kind: bearer, login, register, owner write, signed device request. */
async function everyKind(t: TestApp, user: TestUser, device: TestDevice) {
  return {
    me: await request(t.server).get('/api/v1/auth/me').set(user.auth),
    devices: await request(t.server).get('/api/v1/devices').set(user.auth),
    login: await login(t, { email: user.email, password: user.password }),
    register: await request(t.server)
      .post('/api/v1/auth/register')
      .set('X-Forwarded-For', clientIp())
      .send(newCredentials()),
    device: await signedRequest(t, device),
  };
}

describe('database outage (e2e)', () => {
  describe('no connection free within DATABASE_POOL_TIMEOUT_MS', () => {
    let t: TestApp;
    let user: TestUser;
    let device: TestDevice;
    const held: PoolClient[] = [];

    beforeAll(async () => {
      ({ t, user, device } = await appWithDevice({ env: { DATABASE_POOL_TIMEOUT_MS: '300' } }));
    });
    afterAll(async () => {
      for (const c of held.splice(0)) c.release();
      await t.close();
    });

    it('answers 503 with Retry-After on every route, fast, and recovers', async () => {
      // Take every connection of the pool, as a stuck database would.
      const pool = (t.dataSource.driver as PostgresDriver).master as {
        options: { max: number };
        connect(): Promise<PoolClient>;
      };
      for (let i = 0; i < pool.options.max; i++) held.push(await pool.connect());

      const started = Date.now();
      const res = await everyKind(t, user, device);
      expect(Date.now() - started).toBeLessThan(10_000);
      for (const r of Object.values(res)) expect503(r);
      expect((await request(t.server).get('/health/ready')).status).toBe(503);
      // The operator quoting the 503's X-Request-Id finds why in the logs.
      const reqId = res.me.headers['x-request-id'];
      const lines = t.logs.map((l) => JSON.parse(l) as { reqId?: string; msg?: string });
      expect(lines).toContainEqual(
        expect.objectContaining({ reqId, msg: expect.stringMatching(/^Database unavailable/) }),
      );

      for (const c of held.splice(0)) c.release();
      expect((await request(t.server).get('/api/v1/auth/me').set(user.auth)).status).toBe(200);
      expect((await signedRequest(t, device)).status).toBe(200);
    });
  });

  (onPostgres ? describe : describe.skip)(
    'statements cancelled by DATABASE_STATEMENT_TIMEOUT_MS',
    () => {
      let t: TestApp;
      let user: TestUser;
      let device: TestDevice;

      beforeAll(async () => {
        ({ t, user, device } = await appWithDevice({
          env: { DATABASE_STATEMENT_TIMEOUT_MS: '300' },
        }));
      });
      afterAll(() => t.close());

      it('makes requests blocked on a locked table 503 within the timeout, not hang', async () => {
        const admin = new Client({ connectionString: t.databaseUrl });
        await admin.connect();
        try {
          await admin.query('BEGIN');
          await admin.query('LOCK TABLE users, devices IN ACCESS EXCLUSIVE MODE');
          const started = Date.now();
          const res = await everyKind(t, user, device);
          expect(Date.now() - started).toBeLessThan(10_000);
          for (const r of Object.values(res)) expect503(r);
        } finally {
          await admin.query('ROLLBACK');
          await admin.end();
        }
        expect((await request(t.server).get('/api/v1/auth/me').set(user.auth)).status).toBe(200);
      });
    },
  );

  // A statement the server never answers (hung, or cut off without the
  // connection closing) is no statement_timeout's business: pg's own
  // query_timeout, DATABASE_STATEMENT_TIMEOUT_MS plus a margin, bounds it.
  (onPostgres ? describe : describe.skip)('a database server that stops answering', () => {
    let s: ProxiedApp;
    const statementTimeoutMs = 300;
    const poolTimeoutMs = 1000;

    beforeAll(async () => {
      s = await appBehindProxy({
        DATABASE_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
        DATABASE_POOL_TIMEOUT_MS: String(poolTimeoutMs),
      });
    });
    afterAll(() => s?.close());

    it('answers 503 within query_timeout, closes the silent connections, and recovers', async () => {
      const { t, proxy, user, device } = s;
      proxy.freeze();
      expect(proxy.silentOpen).toBeGreaterThan(0);
      // Each request waits for one silent connection at most (query_timeout,
      // or the pool's connect timeout for a new one), plus slack for a busy
      // machine; then it gets 503.
      const bound = statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS + 2000;
      const within = async (send: () => Promise<request.Response>) => {
        const started = Date.now();
        const res = await send();
        expect(Date.now() - started).toBeLessThan(bound);
        expect503(res);
      };
      // TypeORM's path hands its connection back to the pool without the
      // error: a connection that timed out must close itself, or the pool
      // would hand it out again and again. Once it has tried each, none is open.
      await within(() => request(t.server).get('/api/v1/auth/me').set(user.auth));
      await within(() => request(t.server).get('/api/v1/devices').set(user.auth));
      await within(() =>
        request(t.server).post('/api/v1/devices').set(user.auth).send({ name: 'Stuck' }),
      );
      for (let i = 0; i < 16 && proxy.silentOpen > 0; i++)
        await within(() => request(t.server).get('/api/v1/auth/me').set(user.auth));
      expect(proxy.silentOpen).toBe(0);
      // The pool's own query path (the device credentials), on a new connection.
      await within(() => signedRequest(t, device));

      proxy.thaw();
      expect((await request(t.server).get('/api/v1/auth/me').set(user.auth)).status).toBe(200);
      expect((await signedRequest(t, device)).status).toBe(200);
    });
  });

  (onPostgres ? describe : describe.skip)('the database server goes away', () => {
    let s: ProxiedApp;

    beforeAll(async () => {
      s = await appBehindProxy({ DATABASE_POOL_TIMEOUT_MS: '1000' });
    });
    afterAll(() => s?.close());

    it('answers 503 while it is down (connections cut, then refused) and recovers', async () => {
      const { t, proxy, user, device } = s;
      await proxy.down();
      const res = await everyKind(t, user, device);
      for (const r of Object.values(res)) expect503(r);

      await proxy.up();
      expect((await request(t.server).get('/api/v1/auth/me').set(user.auth)).status).toBe(200);
      expect((await signedRequest(t, device)).status).toBe(200);
    });
  });
});

interface ProxiedApp {
  t: TestApp;
  /** Between `t` and its database. */
  proxy: TcpProxy;
  user: TestUser;
  device: TestDevice;
  /** Stops the app, the proxy and the app that made the database. */
  close(): Promise<void>;
}

/**
 * An app (with `env`, a user and a device) whose connections to its database
 * pass through a TcpProxy; the database is that of a first app.
 */
async function appBehindProxy(env: Record<string, string>): Promise<ProxiedApp> {
  const first = await createTestApp();
  // What close() stops, the last started first; a failed start stops what it started.
  const started: (() => Promise<void>)[] = [() => first.close()];
  const close = async () => {
    for (const stop of started.splice(0).reverse()) await stop();
  };
  try {
    const target = new URL(first.databaseUrl!);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    started.push(() => proxy.close());
    const viaProxy = new URL(first.databaseUrl!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const { t, user, device } = await appWithDevice({ databaseUrl: viaProxy.toString(), env });
    started.push(() => t.close());
    return { t, proxy, user, device, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A TCP relay to the database that can be taken down (connections cut, new
 * ones refused) and brought back on its port, or frozen: its connections,
 * and those opened while it is frozen, stay open but pass nothing on, as
 * with a server that hangs or a route that silently drops packets.
 */
class TcpProxy {
  private server?: Server;
  private readonly links = new Set<{ client: Socket; upstream?: Socket; frozen: boolean }>();
  private frozen = false;

  private constructor(
    private readonly host: string,
    private readonly targetPort: number,
    public port = 0,
  ) {}

  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port);
    await proxy.up();
    return proxy;
  }

  up(): Promise<void> {
    const server = createServer((client) => {
      const link: { client: Socket; upstream?: Socket; frozen: boolean } = {
        client,
        frozen: this.frozen,
      };
      this.links.add(link);
      client.on('error', () => undefined);
      client.on('close', () => {
        this.links.delete(link);
        link.upstream?.destroy();
      });
      // Read, even when frozen, so that the service's close is seen.
      if (link.frozen) return void client.resume();
      const upstream = connect(this.targetPort, this.host);
      link.upstream = upstream;
      upstream.on('error', () => undefined);
      upstream.on('close', () => client.destroy());
      client.on('data', (chunk: Buffer) => link.frozen || upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => link.frozen || client.write(chunk));
    });
    this.server = server;
    return new Promise((resolve) =>
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      }),
    );
  }

  down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const link of this.links) {
      link.client.destroy();
      link.upstream?.destroy();
    }
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** Every open connection, and every new one until thaw(), goes silent. */
  freeze(): void {
    this.frozen = true;
    for (const link of this.links) link.frozen = true;
  }

  /** New connections pass again; the frozen ones stay silent. */
  thaw(): void {
    this.frozen = false;
  }

  /** Silent connections that the service still keeps open. */
  get silentOpen(): number {
    return [...this.links].filter((link) => link.frozen && !link.client.destroyed).length;
  }

  close(): Promise<void> {
    return this.down();
  }
}
