import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appConfig,
  authConfig,
  databaseConfig,
  defaultHashConcurrency,
  deviceAuthConfig,
  devicesConfig,
  redisConfig,
  threadpoolSize,
} from './configuration';
import { ConfigError } from './env';
import { thrown } from '../../test/support/thrown';

// Every variable of the contract's Configuration table, cleared before each
// test so the machine's own environment cannot leak in.
const VARIABLES = [
  'NODE_ENV',
  'PORT',
  'DATABASE_URL',
  'DATA_DIR',
  'JWT_SECRET',
  'JWT_EXPIRES_IN',
  'DEVICE_SECRET_KEK',
  'DEVICE_SECRET_KEK_PREVIOUS',
  'DEVICE_SECRET_BYTES',
  'MAX_DEVICES_PER_USER',
  'HMAC_TIMESTAMP_SKEW_SECONDS',
  'HMAC_NONCE_TTL_SECONDS',
  'REDIS_URL',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'METRICS_TOKEN',
  'CORS_ORIGINS',
  'OWNER_REQUESTS_PER_MINUTE',
  'LOG_FORMAT',
  'REQUEST_TIMEOUT_MS',
  'CONNECTION_TIMEOUT_MS',
  'DATABASE_POOL_TIMEOUT_MS',
  'DATABASE_STATEMENT_TIMEOUT_MS',
  'DATABASE_CONNECT_ATTEMPTS',
  'DATABASE_CONNECT_RETRY_DELAY_MS',
  'PASSWORD_HASH_CONCURRENCY',
  'PASSWORD_HASH_QUEUE',
];

const JWT_SECRET = randomBytes(48).toString('base64');
const KEK = randomBytes(32).toString('base64');

function expectNames(variable: string, run: () => unknown): void {
  const error = thrown(ConfigError, run);
  expect(error.variable).toBe(variable);
  expect(error.message).toContain(variable);
}

describe('threadpoolSize', () => {
  it('is PASSWORD_HASH_CONCURRENCY, at least 2, unless UV_THREADPOOL_SIZE is set', () => {
    expect(threadpoolSize({ PASSWORD_HASH_CONCURRENCY: '6' })).toBe('6');
    expect(threadpoolSize({ PASSWORD_HASH_CONCURRENCY: '1' })).toBe('2');
    expect(threadpoolSize({ PASSWORD_HASH_CONCURRENCY: '6', UV_THREADPOOL_SIZE: '16' })).toBe('16');
    expect(threadpoolSize({})).toBe(String(Math.max(2, availableParallelism() - 1)));
  });

  it('leaves one CPU to the requests by default, and hashes one at a time on one CPU', () => {
    expect([1, 2, 4, 16].map((cpus) => defaultHashConcurrency(cpus))).toEqual([1, 1, 3, 15]);
  });

  it('leaves an invalid PASSWORD_HASH_CONCURRENCY to the start, which names it', () => {
    expect(threadpoolSize({ PASSWORD_HASH_CONCURRENCY: 'many' })).toBeUndefined();
  });
});

describe('configuration namespaces', () => {
  const saved = { ...process.env };
  let dataDir: string;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    for (const name of VARIABLES) delete process.env[name];
    process.env.NODE_ENV = 'development';
    dataDir = mkdtempSync(join(tmpdir(), 'device-registry-config-'));
    // A fresh, not yet existing directory inside the temporary one.
    process.env.DATA_DIR = join(dataDir, 'data');
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    rmSync(dataDir, { recursive: true, force: true });
    for (const name of Object.keys(process.env)) {
      if (!(name in saved)) delete process.env[name];
    }
    Object.assign(process.env, saved);
  });

  describe('authConfig', () => {
    it('reads JWT_SECRET, JWT_EXPIRES_IN and OWNER_REQUESTS_PER_MINUTE', () => {
      process.env.JWT_SECRET = JWT_SECRET;
      process.env.JWT_EXPIRES_IN = '120';
      process.env.OWNER_REQUESTS_PER_MINUTE = '40';
      expect(authConfig()).toMatchObject({
        jwtSecret: JWT_SECRET,
        jwtExpiresIn: 120,
        ownerRequestsPerMinute: 40,
      });
    });

    it('defaults JWT_EXPIRES_IN to 900 seconds and OWNER_REQUESTS_PER_MINUTE to 600', () => {
      process.env.JWT_SECRET = JWT_SECRET;
      expect(authConfig().jwtExpiresIn).toBe(900);
      expect(authConfig().ownerRequestsPerMinute).toBe(600);
    });

    it('requires JWT_SECRET in production', () => {
      process.env.NODE_ENV = 'production';
      process.env.DEVICE_SECRET_KEK = KEK;
      expectNames('JWT_SECRET', () => authConfig());
    });

    it('does not generate a secret file in production', () => {
      process.env.NODE_ENV = 'production';
      expect(() => authConfig()).toThrow(ConfigError);
      expect(() => statSync(join(process.env.DATA_DIR!, 'jwt-secret'))).toThrow();
    });

    it.each(['development', 'production'])(
      'rejects a JWT_SECRET shorter than 32 characters (%s)',
      (nodeEnv) => {
        process.env.NODE_ENV = nodeEnv;
        process.env.JWT_SECRET = 'a'.repeat(31);
        expectNames('JWT_SECRET', () => authConfig());
      },
    );

    it('does not echo a rejected JWT_SECRET in the error', () => {
      const value = randomBytes(12).toString('hex').slice(0, 31);
      process.env.JWT_SECRET = value;
      expect(() => authConfig()).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining(value) }),
      );
    });

    it('accepts a JWT_SECRET of exactly 32 characters', () => {
      process.env.JWT_SECRET = 'k'.repeat(32);
      expect(authConfig().jwtSecret).toBe('k'.repeat(32));
    });

    it('refuses a placeholder JWT_SECRET in production', () => {
      process.env.NODE_ENV = 'production';
      process.env.JWT_SECRET = 'change-me-change-me-change-me-change-me';
      expectNames('JWT_SECRET', () => authConfig());
    });

    it.each(['0', 'soon'])('rejects JWT_EXPIRES_IN=%p naming it', (value) => {
      process.env.JWT_SECRET = JWT_SECRET;
      process.env.JWT_EXPIRES_IN = value;
      expectNames('JWT_EXPIRES_IN', () => authConfig());
    });

    it.each(['0', '-5', 'many'])('rejects OWNER_REQUESTS_PER_MINUTE=%p naming it', (value) => {
      process.env.JWT_SECRET = JWT_SECRET;
      process.env.OWNER_REQUESTS_PER_MINUTE = value;
      expectNames('OWNER_REQUESTS_PER_MINUTE', () => authConfig());
    });
  });

  describe('devicesConfig', () => {
    it('reads the KEKs and the limits', () => {
      const previous = randomBytes(32).toString('base64');
      process.env.DEVICE_SECRET_KEK = KEK;
      process.env.DEVICE_SECRET_KEK_PREVIOUS = previous;
      process.env.DEVICE_SECRET_BYTES = '48';
      process.env.MAX_DEVICES_PER_USER = '5';

      const cfg = devicesConfig();
      expect(cfg.kek.equals(Buffer.from(KEK, 'base64'))).toBe(true);
      expect(cfg.kekPrevious?.equals(Buffer.from(previous, 'base64'))).toBe(true);
      expect(cfg.secretBytes).toBe(48);
      expect(cfg.maxDevicesPerUser).toBe(5);
    });

    it('defaults to 32 secret bytes, 100 devices and no previous KEK', () => {
      process.env.DEVICE_SECRET_KEK = KEK;
      expect(devicesConfig()).toMatchObject({
        kekPrevious: undefined,
        secretBytes: 32,
        maxDevicesPerUser: 100,
      });
    });

    it('requires DEVICE_SECRET_KEK in production', () => {
      process.env.NODE_ENV = 'production';
      process.env.JWT_SECRET = JWT_SECRET;
      expectNames('DEVICE_SECRET_KEK', () => devicesConfig());
    });

    it.each([
      ['16 bytes', randomBytes(16).toString('base64')],
      ['33 bytes', randomBytes(33).toString('base64')],
      ['not base64', 'this is not base64 at all, not even close!!'],
      ['hex of 32 bytes', randomBytes(32).toString('hex')],
      ['base64url of 32 bytes', Buffer.alloc(32, 0xfb).toString('base64url')],
    ])('rejects a DEVICE_SECRET_KEK that is %s, naming it', (_label, value) => {
      process.env.DEVICE_SECRET_KEK = value;
      expectNames('DEVICE_SECRET_KEK', () => devicesConfig());
    });

    it('rejects an invalid DEVICE_SECRET_KEK_PREVIOUS, naming it', () => {
      process.env.DEVICE_SECRET_KEK = KEK;
      process.env.DEVICE_SECRET_KEK_PREVIOUS = randomBytes(16).toString('base64');
      expectNames('DEVICE_SECRET_KEK_PREVIOUS', () => devicesConfig());
    });

    it('does not echo an invalid KEK in the error', () => {
      const value = randomBytes(31).toString('base64');
      process.env.DEVICE_SECRET_KEK = value;
      expect(() => devicesConfig()).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining(value) }),
      );
    });

    it.each(['31', '1025'])('rejects DEVICE_SECRET_BYTES=%p naming it', (value) => {
      process.env.DEVICE_SECRET_KEK = KEK;
      process.env.DEVICE_SECRET_BYTES = value;
      expectNames('DEVICE_SECRET_BYTES', () => devicesConfig());
    });
  });

  describe('deviceAuthConfig', () => {
    it('defaults to a 300 s skew and a 600 s nonce TTL', () => {
      expect(deviceAuthConfig()).toEqual({ skewSeconds: 300, nonceTtlSeconds: 600 });
    });

    it('accepts a nonce TTL of exactly twice the skew', () => {
      process.env.HMAC_TIMESTAMP_SKEW_SECONDS = '60';
      process.env.HMAC_NONCE_TTL_SECONDS = '120';
      expect(deviceAuthConfig()).toEqual({ skewSeconds: 60, nonceTtlSeconds: 120 });
    });

    it.each([
      ['599', undefined],
      ['119', '60'],
      ['300', undefined],
    ])('rejects HMAC_NONCE_TTL_SECONDS=%p with skew %p, naming the TTL', (ttl, skew) => {
      process.env.HMAC_NONCE_TTL_SECONDS = ttl;
      if (skew) process.env.HMAC_TIMESTAMP_SKEW_SECONDS = skew;
      expectNames('HMAC_NONCE_TTL_SECONDS', () => deviceAuthConfig());
    });

    it('rejects a larger skew without a matching TTL, naming the TTL', () => {
      process.env.HMAC_TIMESTAMP_SKEW_SECONDS = '301';
      expectNames('HMAC_NONCE_TTL_SECONDS', () => deviceAuthConfig());
    });
  });

  describe('appConfig, databaseConfig, redisConfig', () => {
    it('has the documented defaults', () => {
      expect(appConfig()).toEqual({
        production: false,
        port: 3000,
        trustProxy: false,
        requestTimeoutMs: 30_000,
        connectionTimeoutMs: 60_000,
        corsOrigins: [],
        logLevel: 'info',
        logFormat: undefined,
        metricsToken: undefined,
      });
      expect(redisConfig()).toEqual({ url: undefined });
      expect(databaseConfig()).toMatchObject({
        url: undefined,
        poolTimeoutMs: 5000,
        statementTimeoutMs: 10_000,
        connectAttempts: 10,
        connectRetryDelayMs: 3000,
      });
      const auth = authConfig();
      expect(auth.hashConcurrency).toBe(Math.max(1, availableParallelism() - 1));
      expect(auth.hashQueue).toBe(16);
    });

    it.each([
      ['1', 1],
      ['2', 2],
      ['0', false],
      ['127.0.0.1', ['127.0.0.1']],
      ['10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8', ['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8']],
      ['loopback,10.0.0.0/255.0.0.0', ['loopback', '10.0.0.0/255.0.0.0']],
    ])('reads TRUST_PROXY=%s as a hop count or a proxy list', (value, expected) => {
      process.env.TRUST_PROXY = value;
      expect(appConfig().trustProxy).toEqual(expected);
    });

    it.each([
      'true',
      'TRUE',
      'yes',
      'on',
      'false',
      '10.0.0.0/33',
      '::1/129',
      'proxy.example',
      '1.2.3',
      '1.2.3.4,',
      '-1',
      '33',
    ])('refuses TRUST_PROXY=%s at start, naming the variable', (value) => {
      process.env.TRUST_PROXY = value;
      expectNames('TRUST_PROXY', () => appConfig());
    });

    it('explains why TRUST_PROXY=true is refused', () => {
      process.env.TRUST_PROXY = 'true';
      expect(thrown(ConfigError, () => appConfig()).message).toMatch(/choose their own IP/);
    });

    it.each(['json', 'pretty'])('reads LOG_FORMAT=%s', (format) => {
      process.env.LOG_FORMAT = format;
      expect(appConfig().logFormat).toBe(format);
    });

    it('parses CORS_ORIGINS as a comma-separated list', () => {
      process.env.CORS_ORIGINS = 'https://a.example, https://b.example,,';
      expect(appConfig().corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    });

    it('defaults DATA_DIR to ./data, resolved', () => {
      delete process.env.DATA_DIR;
      expect(databaseConfig().dataDir).toBe(join(process.cwd(), 'data'));
    });

    it.each([
      ['PORT', '70000', appConfig],
      ['TRUST_PROXY', 'perhaps', appConfig],
      ['REQUEST_TIMEOUT_MS', '10', appConfig],
      ['CONNECTION_TIMEOUT_MS', 'soon', appConfig],
      ['DATABASE_POOL_TIMEOUT_MS', '0', databaseConfig],
      ['DATABASE_STATEMENT_TIMEOUT_MS', '-5', databaseConfig],
      ['DATABASE_CONNECT_ATTEMPTS', '0', databaseConfig],
      ['PASSWORD_HASH_CONCURRENCY', '0', authConfig],
      ['PASSWORD_HASH_QUEUE', 'many', authConfig],
      ['LOG_LEVEL', 'loud', appConfig],
      ['LOG_FORMAT', 'xml', appConfig],
      ['DATABASE_URL', 'mysql://h/db', databaseConfig],
      ['REDIS_URL', 'http://cache:6379', redisConfig],
    ])('rejects an invalid %s, naming it', (name, value, factory) => {
      process.env[name] = value;
      expectNames(name, () => factory());
    });
  });

  describe('development secrets', () => {
    it('generates JWT_SECRET and DEVICE_SECRET_KEK into DATA_DIR, mode 0600, and reuses them', () => {
      const auth = authConfig();
      const devices = devicesConfig();

      const jwtFile = join(process.env.DATA_DIR!, 'jwt-secret');
      const kekFile = join(process.env.DATA_DIR!, 'device-secret-kek');
      expect(statSync(jwtFile).mode & 0o777).toBe(0o600);
      expect(statSync(kekFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(jwtFile, 'utf8').trim()).toBe(auth.jwtSecret);
      expect(Buffer.from(readFileSync(kekFile, 'utf8').trim(), 'base64').equals(devices.kek)).toBe(
        true,
      );
      expect(auth.jwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(devices.kek.length).toBe(32);

      // The warning says which variable was generated and where, never the value.
      expect(warn).toHaveBeenCalledTimes(2);
      const warnings = warn.mock.calls.map((c: unknown[]) => String(c[0])).join('\n');
      expect(warnings).toContain('JWT_SECRET');
      expect(warnings).toContain('DEVICE_SECRET_KEK');
      expect(warnings).not.toContain(auth.jwtSecret);
      expect(warnings).not.toContain(devices.kek.toString('base64'));

      // Restart: the same values come back, nothing is regenerated.
      const authAgain = authConfig();
      const devicesAgain = devicesConfig();
      expect(authAgain.jwtSecret).toBe(auth.jwtSecret);
      expect(devicesAgain.kek.equals(devices.kek)).toBe(true);
      expect(warn).toHaveBeenCalledTimes(2);
    });

    it('generates different values in different data directories', () => {
      const first = authConfig().jwtSecret;
      process.env.DATA_DIR = join(dataDir, 'other');
      expect(authConfig().jwtSecret).not.toBe(first);
    });

    it('prefers a configured value over a generated file', () => {
      const generated = authConfig().jwtSecret;
      process.env.JWT_SECRET = JWT_SECRET;
      expect(authConfig().jwtSecret).toBe(JWT_SECRET);
      expect(JWT_SECRET).not.toBe(generated);
    });
  });
});
