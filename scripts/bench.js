// `npm run build && npm run bench -- [--duration 5] [--rounds 5] [--connections 50]`
//
// Measures the built service (dist/) against bare servers doing the same work
// (scripts/bench-servers.js), all as child processes on loopback, in one run:
// interleaved rounds (every scenario once, then again, …), each scenario run
// next to the one its ratio compares it with, so that a machine whose speed
// drifts slows both alike; then the median of each scenario's rounds, and of
// each ratio taken round by round. Prints a markdown table with the ratios and
// the targets, writes every round as JSON
// to bench-results/. Needs PostgreSQL (BENCH_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres: a database is created and
// dropped) and Redis for scenario 6 (BENCH_REDIS_URL, default
// redis://127.0.0.1:6379/9). Every step is bounded in time; every child is
// stopped on every way out.
/* global AbortSignal */
'use strict';

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const { join } = require('node:path');
const { parseArgs } = require('node:util');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { startCommand } = require('./start-command');

const ROOT = join(__dirname, '..');
const ENTRY = join(ROOT, 'dist/main.js');
const SIGNING = join(ROOT, 'dist/src/device-auth/signing.js');
const PASSWORDS = join(ROOT, 'dist/src/auth/passwords.js');
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 120_000;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    devices: { type: 'string', default: '1000' },
    // Enough owners that their rate limit (600 requests a minute each) is not
    // what scenario 3 measures: 200 ran into it on a fast machine.
    users: { type: 'string', default: '1000' },
    only: { type: 'string', default: '' },
  },
});
const duration = Number(args.duration);
const rounds = Number(args.rounds);
const connections = Number(args.connections);
const deviceCount = Number(args.devices);
const userCount = Number(args.users);
/** `--only 5,6,8`: just those scenarios (to try a change quickly; the targets need the whole run). */
const only = args.only ? new Set(args.only.split(',').map(Number)) : undefined;
const wanted = (id) => !only || only.has(id);
if (
  !(duration >= 1 && duration <= 120) ||
  !(rounds >= 1 && rounds <= 20) ||
  !(connections >= 1 && connections <= 1000) ||
  !(deviceCount >= 1 && deviceCount <= 10_000) ||
  !(userCount >= 10 && userCount <= 5_000)
) {
  process.stderr.write(
    'bench: --duration 1-120 s, --rounds 1-20, --connections 1-1000, --devices 1-10000, --users 10-5000\n',
  );
  process.exit(1);
}
if (![ENTRY, SIGNING, PASSWORDS].every(existsSync)) {
  process.stderr.write('bench: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
const { signRequest } = require(SIGNING);
const { HashingQueue, PasswordHasher } = require(PASSWORDS);

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const JWT_SECRET = `bench-only-${randomBytes(24).toString('hex')}`;
const KEK = randomBytes(32).toString('base64');
/** Active devices a user may have (MAX_DEVICES_PER_USER's default). */
const DEVICES_PER_USER = 100;
const log = (line) => process.stderr.write(`bench: ${line}\n`);

const cleanups = [];
const children = new Set();
async function cleanup() {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()();
    } catch (error) {
      log(`cleanup: ${error.message}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Processes

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    // The service listens on 0.0.0.0, so that is where the port must be free.
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/** A free port below the ephemeral range, where other runs' listen(0) cannot collide with it. */
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port found in 20000-29999');
}

// CPU time per request of each party, so a change shows where it saves work
// even when the machine is noisy: the server under load, every PostgreSQL
// process (the whole cluster), and this process (the load client).
const CPU_PARTS = ['cpuServer', 'cpuPostgres', 'cpuClient'];
const TICK_US = 1e6 / 100; // USER_HZ

function processCpuUs(pid, withReaped = false) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime + stime, and with `withReaped` cutime + cstime: what the process
    // has collected from children that exited.
    const own = Number(fields[11]) + Number(fields[12]);
    return (withReaped ? own + Number(fields[13]) + Number(fields[14]) : own) * TICK_US;
  } catch {
    return undefined;
  }
}

/**
 * CPU time of the whole PostgreSQL cluster so far. A backend that exits (a
 * pool closing an idle connection) takes its time with it, which the
 * postmaster then holds as reaped time: counting both, the total only grows.
 */
function postgresCpuUs() {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') {
        total += processCpuUs(pid, true) ?? 0;
      }
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** Busy and total time of all the machine's cores so far, in clock ticks (/proc/stat). */
function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3] - ticks[4], total };
}

/**
 * Waits until the machine is idle (under 10 % of one core for 300 ms; at most
 * 20 s), and answers how long that took. A scenario leaves work behind: the
 * PostgreSQL cluster's (autovacuum of the nonce table, a checkpoint), the
 * kernel's (writing back an embedded data directory), a service's (a full
 * garbage collection), which would otherwise compete for the cores with
 * whatever scenario comes next.
 */
async function machineSettled() {
  const started = Date.now();
  const cores = os.availableParallelism();
  while (Date.now() - started < 20_000) {
    const before = machineTicks();
    await new Promise((r) => setTimeout(r, 300));
    const after = machineTicks();
    const share = (after.busy - before.busy) / (after.total - before.total || 1);
    if (share * cores < 0.1) break;
  }
  return Date.now() - started;
}

function cpuSnapshot(proc) {
  const own = process.cpuUsage();
  return {
    pid: proc?.child.pid,
    server: proc ? processCpuUs(proc.child.pid) : undefined,
    postgres: postgresCpuUs(),
    client: own.user + own.system,
  };
}

function cpuPerRequest(before, result) {
  const n = result.requests.total;
  if (!n) return {};
  const after = cpuSnapshot(undefined);
  const server = before.pid ? processCpuUs(before.pid) : undefined;
  return {
    cpuServer:
      server === undefined || before.server === undefined
        ? undefined
        : (server - before.server) / n,
    cpuPostgres: (after.postgres - before.postgres) / n,
    cpuClient: (after.client - before.client) / n,
  };
}

/** Peak resident memory of a live process so far (the kernel's high-water mark), MB. */
function peakRssMb(pid) {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawns a server and waits until `readyPath` answers 200. Its output goes to
 * stderr, so stdout holds only the table. Returns the time from spawn to ready.
 */
async function startProcess(name, argv, env, readyPath) {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 2, 2],
  });
  children.add(child);
  let exit;
  child.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`;
    children.delete(child);
  });
  const base = `http://${HOST}:${port}`;
  const proc = {
    name,
    child,
    base,
    port,
    readyMs: 0,
    peakRssMb: () => peakRssMb(child.pid),
    alive: () => {
      if (exit) throw new Error(`${name} exited (${exit})`);
    },
    stop: () => stopChild(child),
  };
  while (Date.now() - started < START_TIMEOUT_MS) {
    proc.alive();
    const ok = await fetch(`${base}${readyPath}`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      proc.readyMs = Date.now() - started;
      return proc;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await proc.stop();
  throw new Error(`${name} did not answer ${readyPath} in ${START_TIMEOUT_MS / 1000} s`);
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function serviceEnv(extra) {
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    JWT_SECRET,
    DEVICE_SECRET_KEK: KEK,
    ...extra,
  };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'TRUST_PROXY']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function tempDir(prefix) {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startService(name, extra) {
  const env = serviceEnv({ DATA_DIR: tempDir('dr-bench-'), ...extra });
  // BENCH_CPU_PROF=<dir>: each service process writes a V8 CPU profile there on
  // exit; BENCH_NODE_ARGS: more options for Node (`--trace-gc`, say).
  const prof = process.env.BENCH_CPU_PROF;
  const start = startCommand(ROOT);
  const argv = [
    ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...start.args,
  ];
  const service = await startProcess(name, argv, { ...env, ...start.env }, '/health/ready');
  cleanups.push(service.stop);
  return service;
}

async function startBare(kind, databaseUrl) {
  const env = serviceEnv({ DATABASE_URL: databaseUrl ?? '' });
  const argv = [join(__dirname, 'bench-servers.js'), kind];
  const server = await startProcess(kind, argv, env, '/health/live');
  cleanups.push(server.stop);
  return server;
}

// ---------------------------------------------------------------------------
// Data

async function admin(sql, url = SERVER_URL) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function createDatabase() {
  const name = `dr_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  cleanups.push(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function redisAnswers() {
  const Redis = require('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function api(base, method, path, body, token) {
  for (let attempt = 0; ; attempt++) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = await res.json().catch(() => ({}));
    if (res.ok) return json;
    // Logins beyond the hashing queue are refused at once: wait and try again.
    if (res.status === 429 && attempt < 50) {
      await new Promise((r) => setTimeout(r, 100 + 50 * attempt));
      continue;
    }
    throw new Error(`${method} ${path}: HTTP ${res.status} ${json.code ?? ''}`);
  }
}

/** Runs `work` over `items`, `width` at a time. */
async function pooled(items, width, work) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i], i);
      }
    }),
  );
  return out;
}

const PASSWORD = `bench-${randomBytes(8).toString('hex')}`;

/**
 * Users straight into the database (registration is limited per IP), all with
 * one password, then each logged in through the service.
 */
async function seedUsers(databaseUrl, base, count) {
  const hash = await new PasswordHasher(new HashingQueue(1, 1)).hash(PASSWORD);
  const emails = Array.from({ length: count }, (_, i) => `bench-${i}@example.com`);
  await admin(
    {
      text: `INSERT INTO users (email, password_hash) SELECT unnest($1::text[]), $2`,
      values: [emails, hash],
    },
    databaseUrl,
  );
  return pooled(emails, 2, async (email) => {
    const { accessToken } = await api(base, 'POST', '/auth/login', { email, password: PASSWORD });
    return { email, accessToken };
  });
}

/** Registers users through the service (the embedded database has no other way in). */
async function registerUsers(base, count) {
  return pooled(
    Array.from({ length: count }, (_, i) => i),
    2,
    async (i) => {
      const email = `bench-embedded-${i}@example.com`;
      await api(base, 'POST', '/auth/register', { email, password: PASSWORD });
      const { accessToken } = await api(base, 'POST', '/auth/login', { email, password: PASSWORD });
      return { email, accessToken };
    },
  );
}

/** `count` devices, DEVICES_PER_USER per owner. */
async function createDevices(base, owners, count) {
  const slots = Array.from({ length: count }, (_, i) => owners[Math.floor(i / DEVICES_PER_USER)]);
  if (slots.some((o) => !o)) throw new Error(`${count} devices need more owners`);
  return pooled(slots, 8, async (owner, i) => {
    const { id, secret } = await api(
      base,
      'POST',
      '/devices',
      { name: `bench ${i}` },
      owner.accessToken,
    );
    return { id, secret };
  });
}

// ---------------------------------------------------------------------------
// Load

/**
 * Signed device requests for one scenario, each with its own nonce, signed
 * before each round rather than by the load client as it sends: signing cost
 * ~20 µs of the load client's CPU a request here, on the cores the server
 * needs, where a real device signs on its own hardware. A round gets twice as
 * many as the fastest round of the scenario so far served, and at least 10,000
 * a second; should they run out, the rest are signed as they are sent and
 * counted in the round's JSON (`signedDuringLoad`).
 */
function signedLoad(devices, method, path, body) {
  let fastest = 0;
  let signed = [];
  let used = 0;
  let late = 0;
  const sign = (i) => {
    const device = devices[i % devices.length];
    const headers = signRequest({ deviceId: device.id, secret: device.secret, method, path, body });
    if (body !== undefined) headers['content-type'] = 'application/json';
    return headers;
  };
  return {
    prepare() {
      const count = Math.ceil(Math.max(2 * fastest, 10_000) * loadSeconds);
      signed = Array.from({ length: count }, (_, i) => sign(i));
      used = 0;
      late = 0;
    },
    async run(target, record) {
      const requests = [
        {
          method,
          path,
          ...(body === undefined ? {} : { body }),
          setupRequest(req) {
            let headers = signed[used];
            if (headers === undefined) {
              headers = sign(used);
              late++;
            }
            signed[used++] = undefined;
            return { ...req, headers: { ...req.headers, ...headers } };
          },
        },
      ];
      const result = await load(target, path, { requests });
      fastest = Math.max(fastest, result.requests.average);
      record.signedDuringLoad = late;
      signed = [];
      return result;
    },
  };
}

let loadSeconds = duration;
function load(target, path, opts = {}) {
  return autocannon({
    url: `${target.base}${path}`,
    connections,
    duration: loadSeconds,
    timeout: 10,
    ...opts,
  });
}

const summary = (r) => ({
  rps: r.requests.average,
  p50: r.latency.p50,
  p99: r.latency.p99,
  non2xx: r.non2xx,
  errors: r.errors + r.timeouts,
  statuses: Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
  ),
});

const median = (values) => {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

// ---------------------------------------------------------------------------
// Report

/**
 * Ratio targets: row ≥ factor × other row's req/s. The ratio is taken round by
 * round (the two ran seconds apart, see RUN_ORDER), and its median reported.
 */
const RATIO_TARGETS = {
  1: [2, 0.8],
  3: [4, 0.9],
  5: [8, 1.5],
  6: [8, 1.5],
  7: [5, 0.9],
  10: [5, 0.5],
};
const P99_TARGETS = { 3: 25, 5: 25, 6: 25, 7: 25, 9: 20 };

/**
 * The order the scenarios run in within a round: each next to, or one away
 * from, the scenario of its ratio (2 for 1, 4 for 3, 8 for 5 and 6, 5 for 7
 * and 10). A shared machine's speed can drift by half within a minute (the
 * bare NestJS app at 26 and 42 µs of CPU a request minutes apart); two
 * scenarios seconds apart see the same machine. Every other round runs in the
 * reverse order, so that no scenario always follows the same one (7 would
 * always come after 8's thousands of PostgreSQL commits).
 */
const RUN_ORDER = [1, 2, 3, 4, 6, 8, 7, 5, 10, 9];

/** The median over the rounds of `s`'s req/s divided by `other`'s in the same round. */
function pairedRatio(s, other) {
  const n = Math.min(s?.rounds?.length ?? 0, other?.rounds?.length ?? 0);
  const ratios = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = [s.rounds[i].rps, other.rounds[i].rps];
    if (a && b) ratios.push(a / b);
  }
  return median(ratios);
}

function fmt(n, digits = 0) {
  return n === undefined
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function markdownTable(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function report(scenarios, measures) {
  const byId = Object.fromEntries(scenarios.map((s) => [s.id, s]));
  const verdicts = [];
  const rows = scenarios.map((s) => {
    const m = s.median;
    const checks = [];
    let ratio = '';
    const rt = RATIO_TARGETS[s.id];
    if (rt) {
      const [other, factor] = rt;
      const r = pairedRatio(s, byId[other]);
      ratio = r === undefined ? `–× ${other}` : `${fmt(r, 2)}× ${other}`;
      checks.push([`≥ ${factor}× ${other}`, r === undefined ? undefined : r >= factor]);
    }
    const pt = P99_TARGETS[s.id];
    if (pt) checks.push([`p99 ≤ ${pt} ms`, m?.p99 === undefined ? undefined : m.p99 <= pt]);
    for (const [text, ok] of checks) verdicts.push({ scenario: s.id, target: text, pass: ok });
    const verdict = checks.map(([, ok]) => (ok === undefined ? 'n/a' : ok ? 'pass' : 'FAIL'));
    return [
      String(s.id),
      s.name,
      s.error ? `not run: ${s.error}` : fmt(m?.rps),
      fmt(m?.p50),
      fmt(m?.p99),
      m?.non2xx ? fmt(m.non2xx) : '0',
      ratio,
      checks.map(([t]) => t).join('; '),
      verdict.join('; '),
      CPU_PARTS.map((k) => fmt(m?.[k])).join(' / '),
    ];
  });
  const measureRows = measures.map(({ name, value, unit, max }) => {
    const ok = value === undefined || max === undefined ? undefined : value <= max;
    if (max !== undefined) verdicts.push({ measure: name, target: `≤ ${max} ${unit}`, pass: ok });
    return [
      name,
      value === undefined ? '–' : `${fmt(value, unit === 's' ? 2 : 0)} ${unit}`,
      max === undefined ? '' : `≤ ${max} ${unit}`,
      ok === undefined ? '' : ok ? 'pass' : 'FAIL',
    ];
  });
  const text = [
    markdownTable(
      [
        '#',
        'scenario',
        'req/s',
        'p50 ms',
        'p99 ms',
        'non-2xx',
        'ratio',
        'target',
        'result',
        'CPU µs/req: server / PostgreSQL / load client',
      ],
      rows,
    ),
    '',
    markdownTable(['measure', 'median / peak', 'target', 'result'], measureRows),
  ].join('\n');
  return { text, verdicts };
}

// ---------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const heartbeat = JSON.stringify({ status: 'ok', equity: 10250.5, note: '' });
  // Exactly 200 bytes.
  const heartbeat200 = heartbeat.replace(
    '"note":""',
    `"note":"${'x'.repeat(200 - heartbeat.length)}"`,
  );

  log(
    `PostgreSQL ${new URL(SERVER_URL).host}, ${connections} connections, ${rounds} rounds of ${duration} s`,
  );
  const databaseUrl = await createDatabase();
  const haveRedis = await redisAnswers();
  if (!haveRedis) log(`no Redis at ${REDIS_URL}: scenario 6 is not run`);

  log('starting the service (PostgreSQL), the bare servers, and the service with Redis');
  const pgService = await startService('service (PostgreSQL)', { DATABASE_URL: databaseUrl });
  const redisService = haveRedis
    ? await startService('service (PostgreSQL + Redis)', { DATABASE_URL: databaseUrl, REDIS_URL })
    : undefined;
  const bareNest = await startBare('nest-static');
  const bareJwt = await startBare('jwt-user', databaseUrl);
  const bareNaive = await startBare('naive-signed', databaseUrl);

  log(`seeding ${userCount} users and ${deviceCount} devices`);
  const users = await seedUsers(databaseUrl, pgService.base, userCount);
  const owners = users.slice(0, Math.ceil(deviceCount / DEVICES_PER_USER));
  const devices = await createDevices(pgService.base, owners, deviceCount);
  const loginBodies = users
    .slice(-8)
    .map(({ email }) => JSON.stringify({ email, password: PASSWORD }));
  const ownerRequests = users.map(({ accessToken }) => ({
    method: 'GET',
    path: '/api/v1/auth/me',
    headers: { authorization: `Bearer ${accessToken}` },
  }));

  const embeddedEnv = { DATA_DIR: tempDir('dr-bench-embedded-') };
  const embeddedCold = [];
  const embeddedRestart = [];
  let embedded, embeddedDevices, seedingPeak, embeddedPeak;
  if (wanted(10)) {
    log('seeding the embedded service');
    embedded = await startService('service (embedded)', embeddedEnv);
    embeddedCold.push(embedded.readyMs);
    const embeddedOwners = await registerUsers(
      embedded.base,
      Math.ceil(deviceCount / DEVICES_PER_USER),
    );
    embeddedDevices = await createDevices(embedded.base, embeddedOwners, deviceCount);
    seedingPeak = embedded.peakRssMb();
    await embedded.stop();
  }

  const scenarios = [
    {
      id: 1,
      name: 'service `GET /health/live`',
      proc: pgService,
      run: () => load(pgService, '/health/live'),
    },
    {
      id: 2,
      proc: bareNest,
      name: 'bare NestJS on Fastify, static JSON',
      run: () => load(bareNest, '/health/live'),
    },
    {
      id: 3,
      proc: pgService,
      name: `service \`GET /api/v1/auth/me\` (${userCount} users)`,
      run: () => load(pgService, '/api/v1/auth/me', { requests: ownerRequests }),
    },
    {
      id: 4,
      proc: bareJwt,
      name: 'bare Fastify + pg: verify JWT, read user',
      run: () => load(bareJwt, '/api/v1/auth/me', { requests: ownerRequests }),
    },
    {
      id: 5,
      proc: pgService,
      name: `service signed \`GET /api/v1/device/me\` (${deviceCount} devices, PostgreSQL nonces)`,
      signed: signedLoad(devices, 'GET', '/api/v1/device/me'),
      run(record) {
        return this.signed.run(pgService, record);
      },
    },
    {
      id: 6,
      proc: redisService,
      name: 'the same with `REDIS_URL`',
      error: redisService ? undefined : 'no Redis',
      signed: signedLoad(devices, 'GET', '/api/v1/device/me'),
      run(record) {
        return this.signed.run(redisService, record);
      },
    },
    {
      id: 7,
      proc: pgService,
      name: 'service signed `POST /api/v1/device/heartbeat` (200-byte body)',
      signed: signedLoad(devices, 'POST', '/api/v1/device/heartbeat', heartbeat200),
      run(record) {
        return this.signed.run(pgService, record);
      },
    },
    {
      id: 8,
      proc: bareNaive,
      name: 'bare Fastify + pg: naive signed request (2 round trips)',
      signed: signedLoad(devices, 'GET', '/api/v1/device/me'),
      run(record) {
        return this.signed.run(bareNaive, record);
      },
    },
    {
      id: 9,
      proc: pgService,
      name: 'service `GET /health/live` while 8 clients log in',
      run: async (record) => {
        const logins = autocannon({
          url: `${pgService.base}/api/v1/auth/login`,
          connections: 8,
          duration: loadSeconds,
          timeout: 10,
          requests: loginBodies.map((body) => ({
            method: 'POST',
            path: '/api/v1/auth/login',
            headers: { 'content-type': 'application/json' },
            body,
          })),
        });
        const [health, login] = await Promise.all([load(pgService, '/health/live'), logins]);
        record.logins = summary(login);
        return health;
      },
    },
    {
      id: 10,
      name: `embedded: signed \`GET /api/v1/device/me\` (${deviceCount} devices)`,
      signed: signedLoad(embeddedDevices ?? [], 'GET', '/api/v1/device/me'),
      async run(record) {
        // Each round restarts it on its data: the restart time is measured too.
        embedded = await startService('service (embedded)', embeddedEnv);
        embeddedRestart.push(embedded.readyMs);
        try {
          return await this.signed.run(embedded, record);
        } finally {
          embeddedPeak = Math.max(embeddedPeak ?? 0, embedded.peakRssMb() ?? 0) || undefined;
          await embedded.stop();
        }
      },
    },
  ];
  for (const s of scenarios) {
    s.rounds = [];
    if (!wanted(s.id)) s.error = 'not selected';
    if (!RUN_ORDER.includes(s.id)) throw new Error(`scenario ${s.id} is missing from RUN_ORDER`);
  }

  log('warming up');
  loadSeconds = 1;
  for (const s of scenarios.filter((s) => s.id <= 8 && !s.error)) {
    s.signed?.prepare();
    await s.run({});
  }
  loadSeconds = duration;

  for (let round = 1; round <= rounds; round++) {
    // A cold start of the embedded mode: a fresh DATA_DIR, once per round.
    if (wanted(10)) {
      const cold = await startService('service (embedded, cold)', {
        DATA_DIR: tempDir('dr-bench-cold-'),
      });
      embeddedCold.push(cold.readyMs);
      await cold.stop();
    }
    for (const id of round % 2 ? RUN_ORDER : [...RUN_ORDER].reverse()) {
      const s = scenarios.find((x) => x.id === id);
      if (s.error) continue;
      log(`round ${round}/${rounds}: ${s.id}. ${s.name}`);
      for (const p of [pgService, redisService, bareNest, bareJwt, bareNaive]) p?.alive();
      s.signed?.prepare();
      const record = { settledMs: await machineSettled() };
      const before = cpuSnapshot(s.proc);
      const result = await s.run(record);
      s.rounds.push({ ...summary(result), ...cpuPerRequest(before, result), ...record });
    }
  }
  for (const s of scenarios) {
    if (s.rounds.length === 0) continue;
    s.median = Object.fromEntries(
      ['rps', 'p50', 'p99', 'non2xx', 'errors', ...CPU_PARTS].map((k) => [
        k,
        median(s.rounds.map((r) => r[k])),
      ]),
    );
  }

  const measures = [
    {
      name: 'embedded cold start to ready (fresh DATA_DIR)',
      value: median(embeddedCold) / 1000,
      unit: 's',
      max: 3,
    },
    { name: 'embedded restart to ready', value: median(embeddedRestart) / 1000, unit: 's', max: 1 },
    {
      name: 'peak RSS, service on PostgreSQL (whole run)',
      value: pgService.peakRssMb(),
      unit: 'MB',
      max: 200,
    },
    {
      name: 'peak RSS, service on PostgreSQL + Redis',
      value: redisService?.peakRssMb(),
      unit: 'MB',
      max: 200,
    },
    {
      name: 'peak RSS, service embedded (restarted, under load)',
      value: embeddedPeak,
      unit: 'MB',
      max: 250,
    },
    {
      name: 'peak RSS, service embedded (cold start, then seeding)',
      value: seedingPeak,
      unit: 'MB',
    },
  ];
  const { text, verdicts } = report(scenarios, measures);
  process.stdout.write(`\n${text}\n`);
  for (const s of scenarios) {
    const bad = s.rounds.filter((r) => r.non2xx + r.errors > 0);
    if (bad.length > 0) {
      process.stdout.write(
        `\nnote: ${s.id}. non-2xx or errors in ${bad.length} round(s): ` +
          bad.map((r) => JSON.stringify({ statuses: r.statuses, errors: r.errors })).join(', '),
      );
    }
    const logins = s.rounds.map((r) => r.logins).filter(Boolean);
    if (logins.length > 0) {
      process.stdout.write(
        `\nnote: ${s.id}. logins: median ${fmt(median(logins.map((l) => l.rps)), 1)}/s, ` +
          `statuses ${logins.map((l) => JSON.stringify(l.statuses)).join(', ')}\n`,
      );
    }
  }

  const outDir = join(ROOT, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        options: { duration, rounds, connections, devices: deviceCount, users: userCount },
        scenarios: scenarios.map(({ id, name, error, rounds: r, median: m }) => ({
          id,
          name,
          error,
          median: m,
          rounds: r,
        })),
        measures: {
          ...Object.fromEntries(measures.map((m) => [m.name, m.value])),
          embeddedCold,
          embeddedRestart,
        },
        verdicts,
      },
      null,
      2,
    ),
  );
  log(`results in ${file}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return 0;
}

// Everything above is bounded; this is the backstop should anything hang.
const backstop = setTimeout(
  () => {
    log('overall time limit reached');
    void cleanup().finally(() => process.exit(1));
  },
  10 * 60_000 + rounds * 10 * (duration + 5) * 1000,
);
backstop.unref();
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.once(signal, () => void cleanup().finally(() => process.exit(code)));
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

main()
  .then(
    (code) => (process.exitCode = code),
    (error) => {
      log(error.stack ?? error.message);
      process.exitCode = 1;
    },
  )
  .finally(cleanup);
