import { createServer, Server, Socket, connect } from 'node:net';
import { Client } from 'pg';
import type { PoolClient } from 'pg';
import request from 'supertest';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { createTestApp, ON_POSTGRES, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { clientIp, login, newCredentials, registerUser, TestUser } from './factories/users';

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
      t = await createTestApp({ env: { DATABASE_POOL_TIMEOUT_MS: '300' } });
      user = await registerUser(t);
      device = await createDevice(t, user);
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
        t = await createTestApp({ env: { DATABASE_STATEMENT_TIMEOUT_MS: '300' } });
        user = await registerUser(t);
        device = await createDevice(t, user);
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

  (onPostgres ? describe : describe.skip)('the database server goes away', () => {
    let first: TestApp;
    let t: TestApp;
    let proxy: TcpProxy;
    let user: TestUser;
    let device: TestDevice;

    beforeAll(async () => {
      first = await createTestApp();
      const target = new URL(first.databaseUrl!);
      proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(first.databaseUrl!);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      t = await createTestApp({
        databaseUrl: viaProxy.toString(),
        env: { DATABASE_POOL_TIMEOUT_MS: '1000' },
      });
      user = await registerUser(t);
      device = await createDevice(t, user);
    });
    afterAll(async () => {
      await t.close();
      await proxy.close();
      await first.close();
    });

    it('answers 503 while it is down (connections cut, then refused) and recovers', async () => {
      await proxy.down();
      const res = await everyKind(t, user, device);
      for (const r of Object.values(res)) expect503(r);

      await proxy.up();
      expect((await request(t.server).get('/api/v1/auth/me').set(user.auth)).status).toBe(200);
      expect((await signedRequest(t, device)).status).toBe(200);
    });
  });
});

/** A TCP relay to the database that can be taken down (connections cut, new ones refused) and brought back on its port. */
class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

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
      const upstream = connect(this.targetPort, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
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
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  close(): Promise<void> {
    return this.down();
  }
}
