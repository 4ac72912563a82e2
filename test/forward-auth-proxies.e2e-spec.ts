import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { signRequest } from '../src/device-auth/signing';
import { requireServices } from './services';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { registerUser, TestUser } from './factories/users';

// The README's upstream helper, used by the test upstream as an owner would.
const { bodyMatchesSignature } = require('../examples/proxies/content-sha256.js') as {
  bodyMatchesSignature: (headers: http.IncomingHttpHeaders, body: Buffer) => boolean;
};

const ROOT = join(__dirname, '..');
const EXAMPLES = join(ROOT, 'examples', 'proxies');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The real proxies: run when installed; under CI a missing one is a failure. */
function binary(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name} || ls /usr/sbin/${name}`], {
    encoding: 'utf8',
  });
  const path = found.stdout.trim().split('\n')[0];
  return found.status === 0 && path && existsSync(path) ? path : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`proxy exited (${proc.exitCode}): ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`proxy did not listen on ${port}: ${log()}`);
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  bodyMatches: boolean;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from a chosen loopback address, so each test is its own client IP. */
function send(
  port: number,
  o: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    from: string;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: o.method,
        path: o.path,
        localAddress: o.from,
        headers: {
          ...(o.body !== undefined && { 'Content-Type': 'application/json' }),
          ...o.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

interface Proxy {
  name: string;
  /** The example file, as the README quotes it. */
  example: string;
  start(dir: string, port: number, registry: number, upstream: number): ChildProcess;
}

/** The example with its addresses replaced by the test's ports. */
function fill(example: string, port: number, registry: number, upstream: number): string {
  return readFileSync(join(EXAMPLES, example), 'utf8')
    .replace(/(listen )8080;/, `$1127.0.0.1:${port};`)
    .replace(/^:8080 \{/m, `http://127.0.0.1:${port} {`)
    .replaceAll('127.0.0.1:3000', `127.0.0.1:${registry}`)
    .replaceAll('127.0.0.1:8000', `127.0.0.1:${upstream}`);
}

const PROXIES: Proxy[] = [
  {
    name: 'nginx',
    example: 'nginx.conf',
    start(dir, port, registry, upstream) {
      const conf = join(dir, 'nginx.conf');
      writeFileSync(
        conf,
        [
          'daemon off;',
          `pid ${dir}/nginx.pid;`,
          `error_log ${dir}/error.log;`,
          'events {}',
          'http {',
          `  access_log ${dir}/access.log;`,
          ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
            (p) => `  ${p}_temp_path ${dir}/${p};`,
          ),
          fill('nginx.conf', port, registry, upstream),
          '}',
        ].join('\n'),
      );
      return spawn(binary('nginx')!, ['-c', conf, '-p', dir], { stdio: 'pipe' });
    },
  },
  {
    name: 'caddy',
    example: 'Caddyfile',
    start(dir, port, registry, upstream) {
      const conf = join(dir, 'Caddyfile');
      writeFileSync(
        conf,
        `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}/storage\n}\n\n` +
          fill('Caddyfile', port, registry, upstream),
      );
      return spawn(binary('caddy')!, ['run', '--config', conf, '--adapter', 'caddyfile'], {
        stdio: 'pipe',
        env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
      });
    },
  },
];

let nextClient = 10;
/** A loopback address of its own for each client. */
const newClient = () => `127.0.0.${nextClient++}`;

// Each proxy is found once; missing: skipped with one line (a failure under CI=true).
for (const proxy of PROXIES)
  requireServices({ [proxy.name]: binary(proxy.name) ?? `/usr/sbin/${proxy.name}` })(
    `forward auth behind a real ${proxy.name} (e2e)`,
    () => {
      let t: TestApp;
      let owner: TestUser;
      let device: TestDevice;
      let upstream: http.Server;
      let seen: Seen[];
      let proc: ChildProcess;
      let dir: string;
      let port: number;
      let output = '';

      beforeAll(async () => {
        t = await createTestApp();
        await t.app.listen(0, '127.0.0.1');
        const registry = (t.app.getHttpServer().address() as AddressInfo).port;
        owner = await registerUser(t);
        device = await createDevice(t, owner, 'Büro ✓');

        seen = [];
        upstream = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            const bodyMatches = bodyMatchesSignature(req.headers, body);
            seen.push({
              method: req.method!,
              url: req.url!,
              headers: req.headers,
              body: body.toString(),
              bodyMatches,
            });
            res.writeHead(bodyMatches ? 200 : 400, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ upstream: true, bodyMatches }));
          });
        });
        await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
        const upstreamPort = (upstream.address() as AddressInfo).port;

        dir = mkdtempSync(join(tmpdir(), `dr-${proxy.name}-`));
        port = await freePort();
        proc = proxy.start(dir, port, registry, upstreamPort);
        proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
        proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
        await waitForPort(port, proc, () => output);
      });

      afterAll(async () => {
        if (proc && proc.exitCode === null) {
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await exited;
        }
        await new Promise((r) => upstream?.close(r));
        await t?.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      /** A request signed by the device, sent through the proxy. */
      function signed(
        o: {
          method?: string;
          path?: string;
          body?: string;
          nonce?: string;
          from?: string;
          secret?: string;
        } = {},
      ) {
        const method = o.method ?? 'POST';
        const path = o.path ?? `/api/orders?ref=${randomUUID()}`;
        const body = o.body ?? (method === 'GET' ? undefined : '{"symbol":"EURUSD","lots":0.1}');
        const headers = signRequest({
          deviceId: device.id,
          secret: o.secret ?? device.secret,
          method,
          path,
          body,
          nonce: o.nonce,
        }) as Record<string, string>;
        return { method, path, headers, body, from: o.from ?? newClient() };
      }
      const reached = (path: string) => seen.filter((s) => s.url === path);

      it('runs the configuration the README shows', () => {
        // Compared as a boolean: a failure would otherwise print the whole README.
        expect(README.includes(readFileSync(join(EXAMPLES, proxy.example), 'utf8'))).toBe(true);
      });

      it('passes a signed request with its body to the upstream, with the device headers', async () => {
        const call = signed();
        const res = await send(port, call);
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ upstream: true, bodyMatches: true });
        const [got] = reached(call.path);
        expect(got).toMatchObject({ method: 'POST', body: call.body, bodyMatches: true });
        expect(got.headers['x-device-id']).toBe(device.id);
        expect(got.headers['x-device-owner-id']).toBe(owner.id);
        expect(decodeURIComponent(got.headers['x-device-name'] as string)).toBe('Büro ✓');
        expect(got.headers['x-content-sha256']).toBe(sha256(call.body!));

        const get = signed({ method: 'GET', path: `/api/quotes?symbol=EURUSD&n=${randomUUID()}` });
        expect((await send(port, get)).status).toBe(200);
        expect(reached(get.path)).toHaveLength(1);
      });

      it('does not let a client set X-Device-Owner-Id for the upstream', async () => {
        const call = signed();
        call.headers['X-Device-Owner-Id'] = randomUUID();
        expect((await send(port, call)).status).toBe(200);
        expect(reached(call.path)[0].headers['x-device-owner-id']).toBe(owner.id);
      });

      it('refuses an unsigned request with the registry 401 body; the upstream never sees it', async () => {
        const path = `/api/orders?ref=${randomUUID()}`;
        const res = await send(port, {
          method: 'POST',
          path,
          body: '{"lots":1}',
          from: newClient(),
        });
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(res.body)).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: 'X-Device-Id must be a device id (UUID)',
          code: 'device_auth_malformed',
        });
        expect(reached(path)).toHaveLength(0);
      });

      it('refuses a changed body sent with its own hash (invalid_signature); the upstream never sees it', async () => {
        const call = signed();
        call.body = '{"symbol":"EURUSD","lots":100}';
        call.headers['X-Content-SHA256'] = sha256(call.body);
        const res = await send(port, call);
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body).code).toBe('invalid_signature');
        expect(reached(call.path)).toHaveLength(0);
      });

      it('leaves a changed body under the signed hash to the upstream check, which refuses it', async () => {
        // The proxy does not show the body to the registry: this is why the
        // upstream compares X-Content-SHA256 with the body it reads.
        const call = signed();
        call.body = '{"symbol":"EURUSD","lots":100}';
        const res = await send(port, call);
        expect(res.status).toBe(400);
        expect(reached(call.path)).toEqual([expect.objectContaining({ bodyMatches: false })]);
      });

      it("ignores or refuses a client's own description of another request", async () => {
        // Signed for GET /api/harmless, sent as POST /api/orders with both header
        // conventions claiming the harmless request.
        const harmless = signed({ method: 'GET', path: '/api/harmless' });
        const path = `/api/orders?ref=${randomUUID()}`;
        const res = await send(port, {
          method: 'POST',
          path,
          body: '{"lots":100}',
          from: newClient(),
          headers: {
            ...harmless.headers,
            'X-Original-Method': 'GET',
            'X-Original-URI': '/api/harmless',
            'X-Forwarded-Method': 'GET',
            'X-Forwarded-Uri': '/api/harmless',
          },
        });
        expect([400, 401]).toContain(res.status);
        expect(reached(path)).toHaveLength(0);
      });

      it('refuses a replayed request (nonce_replayed); the upstream sees it once', async () => {
        const call = signed();
        expect((await send(port, call)).status).toBe(200);
        const again = await send(port, { ...call, from: newClient() });
        expect(again.status).toBe(401);
        expect(JSON.parse(again.body).code).toBe('nonce_replayed');
        expect(reached(call.path)).toHaveLength(1);
      });

      it('refuses the requests of a revoked device; the upstream never sees them', async () => {
        const d = await createDevice(t, owner);
        await request(t.server).post(`/api/v1/devices/${d.id}/revoke`).set(owner.auth).expect(204);
        const path = `/api/orders?ref=${randomUUID()}`;
        const headers = signRequest({ deviceId: d.id, secret: d.secret, method: 'GET', path });
        const res = await send(port, { method: 'GET', path, headers, from: newClient() });
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body).code).toBe('invalid_signature');
        expect(reached(path)).toHaveLength(0);
      });

      // Both examples require a scope on /api/trades/: nginx from the asking
      // location's variable, Caddy from that route's header_up.
      it('requires the scope of a scoped location: 403 insufficient_scope without it, the upstream gets X-Device-Scopes with it', async () => {
        const d = await createDevice(t, owner);
        const call = (o: { headers?: Record<string, string> } = {}) => {
          const path = `/api/trades/open?ref=${randomUUID()}`;
          const headers = signRequest({ deviceId: d.id, secret: d.secret, method: 'GET', path });
          return {
            method: 'GET',
            path,
            headers: { ...headers, ...o.headers },
            from: newClient(),
          };
        };

        // A client's own X-Required-Scopes does not replace the location's.
        const refusedCall = call({ headers: { 'X-Required-Scopes': '' } });
        const refused = await send(port, refusedCall);
        expect(refused.status).toBe(403);
        expect(refused.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(refused.body)).toEqual({
          statusCode: 403,
          error: 'Forbidden',
          message: expect.any(String),
          code: 'insufficient_scope',
        });
        expect(reached(refusedCall.path)).toHaveLength(0);

        // An unscoped location asks for nothing, and the client's X-Device-Scopes never reaches the upstream:
        // the registry's empty value does (nginx leaves an empty header out; Caddy 2.6 sends it empty).
        const open = signed({ method: 'GET', path: `/api/quotes?n=${randomUUID()}` });
        open.headers['X-Device-Scopes'] = 'trades:write';
        expect((await send(port, open)).status).toBe(200);
        expect(reached(open.path)[0].headers['x-device-scopes'] ?? '').toBe('');

        await request(t.server)
          .patch(`/api/v1/devices/${d.id}`)
          .set(owner.auth)
          .send({ scopes: ['trades:write', 'signals.read'] })
          .expect(200);
        const allowed = call();
        expect((await send(port, allowed)).status).toBe(200);
        expect(reached(allowed.path)[0].headers['x-device-scopes']).toBe(
          'signals.read trades:write',
        );
      });

      it('answers 429 with Retry-After to a client after 50 failures, never reaching the upstream; other clients pass', async () => {
        const client = newClient();
        for (let i = 0; i < 50; i++) {
          const res = await send(port, { ...signed({ secret: 'dvs_wrong' }), from: client });
          expect(res.status).toBe(401);
        }
        const call = signed({ from: client });
        const res = await send(port, call);
        expect(res.status).toBe(429);
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
        expect(JSON.parse(res.body)).toMatchObject({ statusCode: 429, code: 'rate_limited' });
        expect(reached(call.path)).toHaveLength(0);
        // An X-Forwarded-For of its own writing does not make it another client.
        const spoofed = signed({ from: client });
        spoofed.headers['X-Forwarded-For'] = '203.0.113.9';
        expect((await send(port, spoofed)).status).toBe(429);
        expect(reached(spoofed.path)).toHaveLength(0);

        // The proxy's own address is not the client: another device client still passes.
        const other = signed();
        expect((await send(port, other)).status).toBe(200);
        expect(reached(other.path)).toHaveLength(1);
      });
    },
  );
