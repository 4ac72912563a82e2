// Load test of the built app (dist/): `npm run build && npm run bench -- [--duration 10]
// [--connections 50] [--embedded]`. Starts `node dist/src/main.js` on a free loopback port
// against a fresh PostgreSQL database (created on BENCH_DATABASE_URL, dropped at the end) or,
// with --embedded, PGlite in a temporary DATA_DIR; REDIS_URL, when set, is passed on. Then it
// measures three routes one after another with autocannon and prints one table. Only loopback
// traffic; every step is bounded in time; the app is stopped on every way out.
/* global AbortSignal */
'use strict';

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const autocannon = require('autocannon');
const { Client } = require('pg');

const ROOT = join(__dirname, '..');
const ENTRY = join(ROOT, 'dist/src/main.js');
const SIGNING = join(ROOT, 'dist/src/device-auth/signing.js');
const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 60_000;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    embedded: { type: 'boolean', default: false },
  },
});
const duration = Number(args.duration);
const connections = Number(args.connections);
if (!(duration > 0 && duration <= 300) || !(connections > 0 && connections <= 1000)) {
  process.stderr.write('bench: --duration must be 1-300 seconds, --connections 1-1000\n');
  process.exit(1);
}
if (!existsSync(ENTRY) || !existsSync(SIGNING)) {
  process.stderr.write('bench: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const { signRequest } = require(SIGNING);

const cleanups = [];
let child;
/** Set when the app exits, however and whenever it does. */
let appExit;

async function cleanup() {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()();
    } catch (error) {
      process.stderr.write(`bench: cleanup: ${error.message}\n`);
    }
  }
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    // The app listens on 0.0.0.0, so that is where the port must be free.
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port below the ephemeral range (32768+), where the ports that
 * concurrent test runs get from listen(0) cannot collide with the app's.
 */
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port found in 20000-29999');
}

async function admin(serverUrl, sql) {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database on the server; dropped by cleanup. */
async function createDatabase() {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `dr_bench_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  cleanups.push(() => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function stopChild() {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startApp() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'dr-bench-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'bench-only-jwt-secret-0123456789abcdef0123456789',
    DEVICE_SECRET_KEK: Buffer.alloc(32, 0x42).toString('base64'),
  };
  delete env.DATABASE_URL;
  delete env.TRUST_PROXY;
  if (!args.embedded) env.DATABASE_URL = await createDatabase();

  // The app's own output goes to stderr so that stdout holds only the table.
  child = spawn(process.execPath, [ENTRY], { cwd: ROOT, env, stdio: ['ignore', 2, 2] });
  cleanups.push(stopChild);
  const exited = new Promise((_, reject) =>
    child.once('exit', (code, signal) => {
      appExit = signal ?? `code ${code}`;
      reject(new Error(`the app exited during start-up (${appExit})`));
    }),
  );
  exited.catch(() => {});
  const base = `http://${HOST}:${port}`;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    if (Date.now() > deadline) throw new Error('the app did not answer /health/live in 60 s');
    const up = await Promise.race([
      fetch(`${base}/health/live`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      ),
      exited,
    ]);
    if (up) return { base, port };
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function api(base, method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${json.code ?? ''}`);
  return json;
}

/** One user, one token, one device: register and login count against per-IP limits. */
async function seed(base) {
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = randomBytes(16).toString('hex');
  await api(base, 'POST', '/auth/register', { email, password });
  const { accessToken } = await api(base, 'POST', '/auth/login', { email, password });
  const device = await api(base, 'POST', '/devices', { name: 'bench' }, accessToken);
  return { accessToken, device };
}

/** A request that autocannon re-signs before every send: fresh nonce, current timestamp. */
function signed(device, method, path, body) {
  return {
    method,
    path,
    ...(body === undefined ? {} : { body }),
    setupRequest(req) {
      const headers = signRequest({
        deviceId: device.id,
        secret: device.secret,
        method: req.method,
        path: req.path,
        body: req.body,
      });
      if (body !== undefined) headers['content-type'] = 'application/json';
      return { ...req, headers: { ...req.headers, ...headers } };
    },
  };
}

function run(port, { path = '/', ...opts }) {
  // autocannon takes the default path from the URL, not from a `path` option.
  return autocannon({
    url: `http://${HOST}:${port}${path}`,
    connections,
    duration,
    timeout: 10,
    ...opts,
  });
}

function statusBreakdown(result) {
  return Object.entries(result.statusCodeStats ?? {})
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, { count }]) => `${count}×${code}`)
    .join(' ');
}

function printTable(rows) {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'vs (a)'];
  const base = rows[0].result.requests.average;
  const lines = rows.map(({ name, result }) => [
    name,
    result.requests.average.toFixed(0),
    String(result.latency.p50),
    String(result.latency.p99),
    String(result.non2xx),
    String(result.errors + result.timeouts),
    base > 0 ? (result.requests.average / base).toFixed(2) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${format(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const l of lines) process.stdout.write(`${format(l)}\n`);
}

async function main() {
  const { base, port } = await startApp();
  const alive = () => {
    if (appExit) throw new Error(`the app exited during the run (${appExit})`);
  };
  const { device } = await seed(base);
  alive();
  const heartbeat = JSON.stringify({ status: 'ok', equity: 10250.5 });
  const scenarios = [
    ['(a) GET /health/live', { path: '/health/live' }],
    [
      '(b) signed GET /api/v1/device/me',
      { requests: [signed(device, 'GET', '/api/v1/device/me')] },
    ],
    [
      '(c) signed POST /api/v1/device/heartbeat',
      { requests: [signed(device, 'POST', '/api/v1/device/heartbeat', heartbeat)] },
    ],
  ];
  process.stderr.write(
    `bench: ${args.embedded ? 'PGlite' : 'PostgreSQL'}${process.env.REDIS_URL ? ' + Redis' : ''}, ` +
      `${connections} connections, ${duration} s per scenario\n`,
  );
  await run(port, { path: '/health/live', duration: 2 }); // warm-up, not reported
  const rows = [];
  for (const [name, opts] of scenarios) {
    alive();
    process.stderr.write(`bench: ${name} …\n`);
    rows.push({ name, result: await run(port, opts) });
  }
  alive();

  process.stdout.write('\n');
  printTable(rows);
  for (const { name, result } of rows) {
    if (result.non2xx === 0 && result.errors + result.timeouts === 0) continue;
    const signedRoute = name.includes('signed');
    process.stdout.write(
      `${signedRoute ? 'WARNING' : 'note'}: ${name}: ${statusBreakdown(result) || 'no non-2xx'}, ` +
        `${result.errors} errors, ${result.timeouts} timeouts\n`,
    );
  }
  const failed = ({ result }) => result.non2xx + result.errors + result.timeouts > 0;
  return rows.slice(1).some(failed) ? 1 : 0;
}

// Everything above is bounded; this is the backstop should anything hang.
const backstop = setTimeout(
  () => {
    process.stderr.write('bench: overall time limit reached\n');
    void cleanup().finally(() => process.exit(1));
  },
  STARTUP_TIMEOUT_MS + (duration + 10) * 6 * 1000,
);
backstop.unref();
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.once(signal, () => void cleanup().finally(() => process.exit(code)));
}
process.once('exit', () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

main()
  .then(
    (code) => (process.exitCode = code),
    (error) => {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exitCode = 1;
    },
  )
  .finally(cleanup);
