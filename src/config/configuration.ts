import { Logger } from '@nestjs/common';
import { ConfigType, registerAs } from '@nestjs/config';
import { resolve } from 'node:path';
import { loadOrCreateDevSecret, randomBase64 } from './dev-secrets';
import { availableParallelism } from 'node:os';
import { ConfigError, int, isProduction, oneOf, str, trustProxy, url } from './env';

// One namespace per concern, each validated when the application module is
// instantiated. Inject with `@Inject(authConfig.KEY) cfg: AuthConfig`.

const logger = new Logger('Config');

function dataDir(env = process.env): string {
  return resolve(str(env, 'DATA_DIR', './data'));
}

function devSecret(name: string, file: string, create: () => string): string {
  if (isProduction(process.env))
    throw new ConfigError(name, 'is required when NODE_ENV=production');
  return loadOrCreateDevSecret(dataDir(), file, create, (path) =>
    logger.warn(`${name} is not set: generated a development value into ${path}`),
  );
}

const PLACEHOLDER = /change[-_ ]?me|placeholder|your[-_ ]?(jwt[-_ ]?)?secret/i;

export const appConfig = registerAs('app', () => {
  const env = process.env;
  const corsOrigins = str(env, 'CORS_ORIGINS');
  return {
    production: isProduction(env),
    port: int(env, 'PORT', 3000, { min: 0, max: 65535 }),
    trustProxy: trustProxy(env, 'TRUST_PROXY'),
    /** Whole request (headers and body) must arrive within this; else 408. */
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, { min: 1000, max: 600_000 }),
    /** A socket with no traffic for this long is closed. */
    connectionTimeoutMs: int(env, 'CONNECTION_TIMEOUT_MS', 60_000, { min: 1000, max: 3_600_000 }),
    corsOrigins: corsOrigins
      ? corsOrigins
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : [],
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      'info',
    ),
    /** Unset: chosen at start (see chooseLogFormat). */
    logFormat:
      str(env, 'LOG_FORMAT') === undefined
        ? undefined
        : oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    metricsToken: str(env, 'METRICS_TOKEN'),
  };
});

export const databaseConfig = registerAs('database', () => {
  const env = process.env;
  return {
    url: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: dataDir(),
    /** Waiting for a pooled connection (or a new one) longer than this fails the request with 503. */
    poolTimeoutMs: int(env, 'DATABASE_POOL_TIMEOUT_MS', 5000, { min: 100, max: 600_000 }),
    /**
     * PostgreSQL's statement_timeout: a statement running longer is cancelled
     * (503); pg's query_timeout is this plus QUERY_TIMEOUT_MARGIN_MS. Neither
     * holds on the embedded database (see EmbeddedDatabase).
     */
    statementTimeoutMs: int(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, {
      min: 100,
      max: 3_600_000,
    }),
    /** Connection attempts at start, each failure logged as it happens, before giving up. */
    connectAttempts: int(env, 'DATABASE_CONNECT_ATTEMPTS', 10, { min: 1, max: 1000 }),
    connectRetryDelayMs: int(env, 'DATABASE_CONNECT_RETRY_DELAY_MS', 3000, {
      min: 0,
      max: 600_000,
    }),
  };
});

export const authConfig = registerAs('auth', () => {
  const env = process.env;
  const jwtSecret =
    str(env, 'JWT_SECRET') ?? devSecret('JWT_SECRET', 'jwt-secret', randomBase64(48));
  if (jwtSecret.length < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  if (isProduction(env) && PLACEHOLDER.test(jwtSecret)) {
    throw new ConfigError('JWT_SECRET', 'looks like a placeholder; generate a random value');
  }
  return {
    jwtSecret,
    jwtExpiresIn: int(env, 'JWT_EXPIRES_IN', 900, { min: 1 }),
    ownerRequestsPerMinute: int(env, 'OWNER_REQUESTS_PER_MINUTE', 600, { min: 1, max: 1_000_000 }),
    /** Password hashes (argon2) computed at once; more wait in the queue. */
    hashConcurrency: passwordHashConcurrency(env),
    /** Password hashes allowed to wait; a login or registration beyond it gets 429 at once. */
    hashQueue: int(env, 'PASSWORD_HASH_QUEUE', 16, { min: 0, max: 100_000 }),
  };
});

/**
 * One CPU fewer than the machine has, at least one: hashes never take every
 * core, so a burst of logins cannot stall device and owner requests (on 2
 * cores, `GET /health/live` p99 while 8 clients log in: 11–12 ms against
 * 15–16 ms with both cores hashing, for a quarter fewer logins a second).
 */
export function defaultHashConcurrency(cpus = availableParallelism()): number {
  return Math.max(1, cpus - 1);
}

function passwordHashConcurrency(env: NodeJS.ProcessEnv): number {
  return int(env, 'PASSWORD_HASH_CONCURRENCY', defaultHashConcurrency(), { min: 1, max: 1024 });
}

/**
 * The size of libuv's threadpool, for UV_THREADPOOL_SIZE when it is not set:
 * PASSWORD_HASH_CONCURRENCY, at least 2. argon2 hashes on that pool, and each
 * of its threads keeps the memory of the largest hash it ran (12 MiB, in the
 * C library's per-thread arena): libuv's default of 4 threads held ~80 MB
 * after a few logins even one at a time, and ran at most 4 hashes whatever
 * the concurrency said. Undefined when the setting is invalid (the start
 * reports that).
 */
export function threadpoolSize(env: NodeJS.ProcessEnv): string | undefined {
  if (env.UV_THREADPOOL_SIZE) return env.UV_THREADPOOL_SIZE;
  try {
    return String(Math.max(2, passwordHashConcurrency(env)));
  } catch {
    return undefined;
  }
}

function kek(name: string, value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64') !== value) {
    throw new ConfigError(name, 'must be the base64 encoding of exactly 32 bytes');
  }
  return key;
}

export const devicesConfig = registerAs('devices', () => {
  const env = process.env;
  const current =
    str(env, 'DEVICE_SECRET_KEK') ??
    devSecret('DEVICE_SECRET_KEK', 'device-secret-kek', randomBase64(32));
  const previous = str(env, 'DEVICE_SECRET_KEK_PREVIOUS');
  return {
    kek: kek('DEVICE_SECRET_KEK', current),
    kekPrevious: previous ? kek('DEVICE_SECRET_KEK_PREVIOUS', previous) : undefined,
    secretBytes: int(env, 'DEVICE_SECRET_BYTES', 32, { min: 32, max: 1024 }),
    maxDevicesPerUser: int(env, 'MAX_DEVICES_PER_USER', 100, { min: 1, max: 1_000_000 }),
  };
});

export const deviceAuthConfig = registerAs('deviceAuth', () => {
  const env = process.env;
  const skewSeconds = int(env, 'HMAC_TIMESTAMP_SKEW_SECONDS', 300, { min: 1, max: 86_400 });
  const nonceTtlSeconds = int(env, 'HMAC_NONCE_TTL_SECONDS', 600, { min: 2, max: 7 * 86_400 });
  if (nonceTtlSeconds < 2 * skewSeconds) {
    throw new ConfigError(
      'HMAC_NONCE_TTL_SECONDS',
      `must be at least twice HMAC_TIMESTAMP_SKEW_SECONDS (${2 * skewSeconds})`,
    );
  }
  return { skewSeconds, nonceTtlSeconds };
});

export const redisConfig = registerAs('redis', () => ({
  url: url(process.env, 'REDIS_URL', ['redis:', 'rediss:']),
}));

export const allConfig = [
  appConfig,
  databaseConfig,
  authConfig,
  devicesConfig,
  deviceAuthConfig,
  redisConfig,
];

export type AppConfig = ConfigType<typeof appConfig>;
export type DatabaseConfig = ConfigType<typeof databaseConfig>;
export type AuthConfig = ConfigType<typeof authConfig>;
export type DevicesConfig = ConfigType<typeof devicesConfig>;
export type DeviceAuthConfig = ConfigType<typeof deviceAuthConfig>;
export type RedisConfig = ConfigType<typeof redisConfig>;
