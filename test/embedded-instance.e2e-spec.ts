import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { startCommand } from '../scripts/start-command';

// The built service (dist/) as separate processes on one embedded DATA_DIR:
// what `npm start` twice, or a restart after a crash, does.
const ROOT = join(__dirname, '..');

interface Instance {
  child: ChildProcess;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

async function start(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Instance> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port) };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'NODE_ENV', 'TRUST_PROXY']) delete env[name];
  env.LOG_LEVEL = 'warn';
  // As `npm start` runs it: its environment and Node options.
  const command = startCommand(ROOT);
  Object.assign(env, command.env, extraEnv);
  const child = spawn(process.execPath, command.args, { cwd: ROOT, env });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** The TCP ports a process listens on (Linux /proc). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined; // closed meanwhile
        }
      })
      .filter(Boolean),
  );
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address:port (hex), f[3] state (0A = LISTEN), f[9] inode
      if (f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
    }
  }
  return [...new Set(ports)];
}

async function ready(instance: Instance): Promise<void> {
  const deadline = Date.now() + 45_000;
  let gone = false;
  void instance.exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    const ok = await fetch(`${instance.base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the service did not become ready:\n${instance.output()}`);
}

/** Every instance the tests start; those still running are killed after them. */
const running: Instance[] = [];

/** Runs `use` on a ready instance with a new DATA_DIR of its own, then stops it and removes the directory. */
async function withInstance(
  prefix: string,
  env: NodeJS.ProcessEnv,
  use: (instance: Instance) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const instance = await start(dir, env);
  running.push(instance);
  try {
    await ready(instance);
    await use(instance);
  } finally {
    instance.child.kill('SIGTERM');
    await instance.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('embedded DATA_DIR: one instance at a time (built service)', () => {
  let dataDir: string;

  beforeAll(() => {
    // dist/ as `npm start` would run it: built when missing or older than src/.
    execFileSync(process.execPath, ['scripts/build-if-needed.js'], { cwd: ROOT, stdio: 'ignore' });
    dataDir = mkdtempSync(join(tmpdir(), 'dr-instance-'));
  }, 120_000);
  afterAll(() => {
    for (const i of running) i.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second instance at once, naming the directory; a restart after kill -9 works and keeps the data', async () => {
    const first = await start(dataDir);
    running.push(first);
    await ready(first);
    // The embedded database has no listener of its own: only the HTTP port is open.
    expect(listeningPorts(first.child.pid!)).toEqual([Number(new URL(first.base).port)]);
    const email = `lock-${randomBytes(4).toString('hex')}@example.com`;
    const credentials = { email, password: 'correct horse battery staple' };
    const registered = await fetch(`${first.base}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(registered.status).toBe(201);

    const second = await start(dataDir);
    running.push(second);
    const began = Date.now();
    expect(await second.exited).not.toBe(0);
    // Bounded by loading the modules, not by the database's connection retries.
    expect(Date.now() - began).toBeLessThan(15_000);
    expect(second.output()).toContain(`DATA_DIR ${dataDir} is in use by another instance`);
    expect(second.output()).toContain(`pid ${first.child.pid}`);
    // The first instance is untouched.
    expect((await fetch(`${first.base}/health/ready`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    const restarted = await start(dataDir);
    running.push(restarted);
    await ready(restarted);
    const login = await fetch(`${restarted.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(login.status).toBe(200);

    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.lock'))).toEqual([]);
  }, 180_000);

  it('runs from its bundle: no package the bundle holds is loaded again from node_modules', async () => {
    // Node names every module it loads (NODE_DEBUG=module, on standard error).
    await withInstance('dr-instance-modules-', { NODE_DEBUG: 'module' }, async (instance) => {
      const loaded = [...instance.output().matchAll(/^MODULE \d+: load "([^"]+)"/gm)].map(
        ([, file]) => file,
      );
      // What the bundle keeps out (scripts/bundle.js) comes from node_modules…
      expect(loaded).toContainEqual(expect.stringMatching(/node_modules\/@electric-sql\/pglite\//));
      // …but nothing it holds: a second copy of TypeORM or pg was once loaded
      // at each start by look-ups the bundler cannot follow.
      const bundled = /node_modules\/(typeorm|pg|@nestjs\/[^/]+|fastify|class-validator|pino)\//;
      expect(loaded.filter((file) => bundled.test(file))).toEqual([]);
      // Only a pretty log format needs pino-pretty (here: JSON, not a terminal).
      expect(loaded.filter((file) => file.includes('node_modules/pino-pretty/'))).toEqual([]);
    });
  }, 60_000);

  it('starts in well under 300 MB: PGlite is compiled by the baseline compiler only, whatever the Node version', async () => {
    await withInstance('dr-instance-memory-', {}, async (instance) => {
      // The kernel's high-water mark of the process's resident memory so far.
      const status = readFileSync(`/proc/${instance.child.pid}/status`, 'utf8');
      const peakMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
      // ~160-210 MB; with PGlite's hot functions tiered up to TurboFan, as
      // Node 24 did under --liftoff-only alone, ~730 MB.
      expect(peakMb).toBeLessThan(300);
    });
  }, 60_000);

  it('writes pretty lines from its bundle when LOG_FORMAT=pretty (pino-pretty, loaded only then)', async () => {
    const env = { LOG_FORMAT: 'pretty', LOG_LEVEL: 'info' };
    await withInstance('dr-instance-pretty-', env, async (instance) => {
      expect(instance.output()).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*Nest application successfully started/m,
      );
      expect(instance.output()).not.toMatch(/^\{"level"/m);
    });
  }, 60_000);

  it('starts from the code cache that a finished start wrote; a cache that does not fit is written anew', async () => {
    const dist = join(ROOT, 'dist');
    const caches = () => readdirSync(dist).filter((f) => /^service\.[0-9a-f]{16}\.cache$/.test(f));
    // Read as Latin-1 by the launcher: one character beyond ASCII would corrupt it.
    expect(readFileSync(join(dist, 'service.js')).some((byte) => byte > 0x7f)).toBe(false);
    for (const file of caches()) rmSync(join(dist, file));
    const dir = mkdtempSync(join(tmpdir(), 'dr-instance-cache-'));
    type Stat = { size: number; mtimeMs: number } | undefined;
    const run = async (untilCacheIs: (stat: Stat) => boolean, waitMs = 15_000) => {
      const instance = await start(dir);
      running.push(instance);
      try {
        await ready(instance);
        const deadline = Date.now() + waitMs;
        while (!untilCacheIs(cacheStat()) && Date.now() < deadline) await sleep(100);
        // Still there, and serving, whatever happened to the cache.
        expect((await fetch(`${instance.base}/health/live`)).status).toBe(200);
      } finally {
        instance.child.kill('SIGTERM');
        expect(await instance.exited).toBe(0);
      }
      return cacheStat();
    };
    const cacheStat = () => {
      const [file] = caches();
      return file ? statSync(join(dist, file)) : undefined;
    };
    try {
      const written = await run((stat) => stat !== undefined && stat.size > 1_000_000);
      expect(caches()).toHaveLength(1);
      // A start that takes it does not write it again.
      const taken = await run(() => false, 2_000);
      expect(taken?.mtimeMs).toBe(written?.mtimeMs);
      // One that V8 refuses is compiled as usual and replaced.
      writeFileSync(join(dist, caches()[0]), 'not a code cache');
      const rewritten = await run((stat) => stat !== undefined && stat.size > 1_000_000);
      expect(rewritten!.mtimeMs).toBeGreaterThan(taken!.mtimeMs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('serves Swagger UI scripts that run in a page as built (signing script, then the init script)', async () => {
    await withInstance('dr-instance-docs-', {}, async (instance) => {
      const script = async (path: string) => {
        const res = await fetch(`${instance.base}/docs/${path}`);
        expect(res.status).toBe(200);
        return res.text();
      };
      // One page: both scripts share its globals, as in a browser.
      const page: Record<string, unknown> = {
        location: { href: `${instance.base}/docs/`, search: '', origin: instance.base },
        btoa,
        TextEncoder,
        URL,
        crypto,
      };
      page.window = page;
      let options: { requestInterceptor(r: object): Promise<object> } | undefined;
      const ui = {
        specSelectors: { specJson: () => ({ toJS: () => ({ paths: {} }) }) },
        authSelectors: { authorized: () => ({ toJS: () => ({}) }) },
      };
      page.SwaggerUIBundle = Object.assign((o: typeof options) => ((options = o), ui), {
        presets: { apis: {} },
        plugins: { DownloadUrl: {} },
      });
      page.SwaggerUIStandalonePreset = {};

      runInNewContext(await script('device-signing.js'), page);
      expect(typeof page.deviceRegistrySign).toBe('function');
      runInNewContext(await script('swagger-ui-init.js'), page);
      (page.onload as () => void)();
      // Not authorized as a device: the request goes out as it was, unsigned.
      const req = { url: `${instance.base}/api/v1/device/me`, method: 'GET', headers: {} };
      await expect(options!.requestInterceptor(req)).resolves.toEqual(req);
    });
  }, 60_000);
});
