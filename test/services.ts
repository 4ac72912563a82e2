import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/**
 * Suites that need a service the machine may lack declare it at describe
 * level:
 *
 *   requireServices({ redis: REDIS_TEST_URL })('RedisRateLimitStore', () => { … });
 *
 * The service is asked once, when the suite is collected. When it does not
 * answer, the suite is skipped with one line saying what is missing and how to
 * provide it; under `CI=true` the suite fails instead, so CI proves everything.
 */

/** The Redis the suites use unless REDIS_TEST_URL names another. */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
/** The browser of the browser checks unless CHROMIUM_PATH names another. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

type ServiceName = 'redis' | 'postgres' | 'chromium' | 'nginx' | 'caddy';
/** Programs, checked by path; the others are servers, asked over the network. */
const PROGRAMS = new Set<ServiceName>(['chromium', 'nginx', 'caddy']);

const HOW_TO_PROVIDE: Record<ServiceName, string> = {
  redis: 'start one (`redis-server`) or point REDIS_TEST_URL at one',
  postgres:
    'set DATABASE_URL to a PostgreSQL server the suite may create databases on, ' +
    'e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres',
  chromium: 'install it (`apt-get install chromium`) or point CHROMIUM_PATH at one',
  nginx: 'install it (`apt-get install nginx-light`)',
  caddy: 'install it (`apt-get install caddy`)',
};

const LABEL: Record<ServiceName, string> = {
  redis: 'Redis',
  postgres: 'PostgreSQL',
  chromium: 'Chromium',
  nginx: 'nginx',
  caddy: 'Caddy',
};

// Run in a child process so the answer is known synchronously, while Jest
// collects the suite (a skip cannot be decided later), and so nothing of the
// probe (sockets, reconnect timers) stays open in the test process.
const PROBES: Record<'redis' | 'postgres', string> = {
  redis: `
    const Redis = require('ioredis');
    const r = new Redis(process.argv[1], { lazyConnect: true, connectTimeout: 2000,
      maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => {});
    r.connect().then(() => r.ping()).then(() => process.exit(0), () => process.exit(1));`,
  postgres: `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 2000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => process.exit(0), () => process.exit(1));`,
};

function answers(name: ServiceName, url: string): boolean {
  if (PROGRAMS.has(name)) {
    try {
      accessSync(url, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  const probe = spawnSync(process.execPath, ['-e', PROBES[name as keyof typeof PROBES], url], {
    cwd: __dirname,
    stdio: 'ignore',
    timeout: 5000,
  });
  return probe.status === 0;
}

function missing(name: ServiceName, url: string | undefined): string | undefined {
  if (!url) return `${LABEL[name]} (not configured)`;
  if (answers(name, url)) return undefined;
  return PROGRAMS.has(name)
    ? `${LABEL[name]} at ${url} (not found)`
    : `${LABEL[name]} at ${new URL(url).host} (no answer)`;
}

/** `describe` when every service answers, else `describe.skip` (or a failure under CI=true). */
export function requireServices(
  services: Partial<Record<ServiceName, string | undefined>>,
): jest.Describe {
  const absent = (Object.entries(services) as [ServiceName, string | undefined][])
    .map(([name, url]) => ({ name, problem: missing(name, url) }))
    .filter((s) => s.problem !== undefined);
  if (absent.length === 0) return describe;

  const suite = expect.getState().testPath ?? 'a suite';
  const line =
    `${suite.replace(`${process.cwd()}/`, '')}: needs ${absent.map((s) => s.problem).join(' and ')}; ` +
    absent.map((s) => HOW_TO_PROVIDE[s.name]).join('; ');
  if (process.env.CI === 'true') throw new Error(`CI=true and a service is missing: ${line}`);
  process.stdout.write(`skipped ${line}\n`);
  return describe.skip;
}
