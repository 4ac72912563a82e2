import { isIP } from 'node:net';

// Strict readers for environment variables. Every failure names the variable,
// so a misconfigured service stops at start with a message that says what to fix.

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = NodeJS.ProcessEnv;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function str(env: Env, name: string): string | undefined;
export function str(env: Env, name: string, fallback: string): string;
export function str(env: Env, name: string, fallback?: string): string | undefined {
  return raw(env, name) ?? fallback;
}

export function int(
  env: Env,
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function flag(env: Env, name: string): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined || ['0', 'false', 'no', 'off'].includes(value)) return false;
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  throw new ConfigError(name, `must be true or false, got "${value}"`);
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  }
  return value;
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  values: readonly T[],
  fallback: T,
): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(values as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${value}"`);
  }
  return value as T;
}

export function isProduction(env: Env): boolean {
  return env.NODE_ENV === 'production';
}

/** proxy-addr's names for address ranges, accepted in a TRUST_PROXY list. */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function isAddressOrCidr(entry: string): boolean {
  if (RANGE_NAMES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (/^\d{1,3}$/.test(prefix)) return Number(prefix) <= (family === 4 ? 32 : 128);
  // proxy-addr also takes an IPv4 netmask: 10.0.0.0/255.0.0.0.
  return family === 4 && isIP(prefix) === 4;
}

/**
 * TRUST_PROXY: unset or 0 trusts no proxy (the socket's address is the client
 * IP); a whole number trusts that many hops; otherwise a comma-separated list
 * of proxy addresses or CIDRs. `true` is refused: it would trust every hop, so
 * the left-most X-Forwarded-For entry, which the client writes itself, would
 * become the client IP.
 */
export function trustProxy(env: Env, name: string): number | string[] | false {
  const value = raw(env, name);
  if (value === undefined) return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 32) throw new ConfigError(name, `must be at most 32 hops, got ${hops}`);
    return hops === 0 ? false : hops;
  }
  if (['true', 'false', 'yes', 'no', 'on', 'off'].includes(value.toLowerCase())) {
    throw new ConfigError(
      name,
      `must be a number of proxy hops or a comma-separated list of proxy addresses/CIDRs, not "${value}": ` +
        'trusting every hop would let clients choose their own IP in X-Forwarded-For',
    );
  }
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    if (!isAddressOrCidr(entry)) {
      throw new ConfigError(
        name,
        `must be a number of proxy hops or a comma-separated list of proxy addresses/CIDRs; "${entry}" is neither`,
      );
    }
  }
  return entries;
}
