import { ConfigError, flag, int, isProduction, oneOf, str, url } from './env';
import { thrown } from '../../test/support/thrown';

const configError = (run: () => unknown): ConfigError => thrown(ConfigError, run);

function expectNames(variable: string, run: () => unknown): void {
  const error = configError(run);
  expect(error.variable).toBe(variable);
  expect(error.message).toContain(variable);
}

describe('str', () => {
  it('trims, and treats empty or blank as unset', () => {
    expect(str({ A: '  x  ' }, 'A')).toBe('x');
    expect(str({ A: '' }, 'A', 'fb')).toBe('fb');
    expect(str({ A: '   ' }, 'A')).toBeUndefined();
    expect(str({}, 'A', 'fb')).toBe('fb');
  });
});

describe('int', () => {
  it('reads whole numbers and falls back when unset or blank', () => {
    expect(int({ PORT: '8080' }, 'PORT', 3000)).toBe(8080);
    expect(int({ PORT: ' 0 ' }, 'PORT', 3000)).toBe(0);
    expect(int({}, 'PORT', 3000)).toBe(3000);
    expect(int({ PORT: '' }, 'PORT', 3000)).toBe(3000);
  });

  it('accepts the bounds themselves', () => {
    expect(int({ N: '1' }, 'N', 5, { min: 1, max: 10 })).toBe(1);
    expect(int({ N: '10' }, 'N', 5, { min: 1, max: 10 })).toBe(10);
  });

  it.each(['abc', '-1', '1.5', '1e3', '0x10', '12abc', '+5'])(
    'rejects %p naming the variable',
    (value) => {
      expectNames('JWT_EXPIRES_IN', () => int({ JWT_EXPIRES_IN: value }, 'JWT_EXPIRES_IN', 900));
    },
  );

  it.each([
    ['0', { min: 1 }],
    ['65536', { min: 0, max: 65535 }],
  ])('rejects %p outside %p naming the variable', (value, bounds) => {
    expectNames('PORT', () => int({ PORT: value }, 'PORT', 3000, bounds));
  });
});

describe('flag', () => {
  it.each(['1', 'true', 'TRUE', 'yes', 'on', ' On '])('reads %p as true', (value) => {
    expect(flag({ TRUST_PROXY: value }, 'TRUST_PROXY')).toBe(true);
  });

  it.each(['0', 'false', 'False', 'no', 'off', '', undefined])('reads %p as false', (value) => {
    expect(flag({ TRUST_PROXY: value }, 'TRUST_PROXY')).toBe(false);
  });

  it.each(['maybe', '2', 'y', 'enabled'])('rejects %p naming the variable', (value) => {
    expectNames('TRUST_PROXY', () => flag({ TRUST_PROXY: value }, 'TRUST_PROXY'));
  });
});

describe('url', () => {
  const protocols = ['redis:', 'rediss:'];

  it('accepts URLs with an allowed protocol and is undefined when unset', () => {
    expect(url({ REDIS_URL: 'redis://127.0.0.1:6379' }, 'REDIS_URL', protocols)).toBe(
      'redis://127.0.0.1:6379',
    );
    expect(url({ REDIS_URL: 'rediss://cache:6380/1' }, 'REDIS_URL', protocols)).toBe(
      'rediss://cache:6380/1',
    );
    expect(url({}, 'REDIS_URL', protocols)).toBeUndefined();
  });

  it('rejects something that is not a URL, naming the variable', () => {
    expectNames('REDIS_URL', () => url({ REDIS_URL: 'localhost:6379 x' }, 'REDIS_URL', protocols));
  });

  it('rejects another protocol, naming the variable', () => {
    expectNames('DATABASE_URL', () =>
      url({ DATABASE_URL: 'mysql://u@h/db' }, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    );
  });

  it('does not echo the URL (it may hold a password)', () => {
    const error = configError(() =>
      url({ DATABASE_URL: 'mysql://u:s3cr3t@h/db' }, 'DATABASE_URL', ['postgres:']),
    );
    expect(error.message).not.toContain('s3cr3t');
  });
});

describe('oneOf', () => {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

  it('accepts a listed value and falls back when unset', () => {
    expect(oneOf({ LOG_LEVEL: 'debug' }, 'LOG_LEVEL', levels, 'info')).toBe('debug');
    expect(oneOf({}, 'LOG_LEVEL', levels, 'info')).toBe('info');
  });

  it.each(['verbose', 'INFO', 'inf'])('rejects %p naming the variable', (value) => {
    expectNames('LOG_LEVEL', () => oneOf({ LOG_LEVEL: value }, 'LOG_LEVEL', levels, 'info'));
  });
});

describe('isProduction', () => {
  it('is true only for NODE_ENV=production', () => {
    expect(isProduction({ NODE_ENV: 'production' })).toBe(true);
    expect(isProduction({ NODE_ENV: 'development' })).toBe(false);
    expect(isProduction({})).toBe(false);
  });
});
