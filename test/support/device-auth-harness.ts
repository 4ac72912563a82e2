import { ExecutionContext, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '../../src/common/api-error';
import { ErrorCode } from '../../src/common/error-codes';
import { MemoryRateLimitStore, type RateLimitStore } from '../../src/common/rate-limit.store';
import type { Device } from '../../src/devices/device.entity';
import { SecretSealer } from '../../src/devices/secret-sealer';
import { MetricsService } from '../../src/observability/metrics.service';
import type {
  DeviceCredentialsRepository,
  LiveSecret,
} from '../../src/device-auth/device-credentials.repository';
import { DeviceAuthService } from '../../src/device-auth/device-auth.service';
import { DeviceKeyCache } from '../../src/device-auth/device-key-cache';
import { DEVICE_SCOPES, DeviceSignatureGuard } from '../../src/device-auth/device-signature.guard';
import type { LastSeenRecorder } from '../../src/device-auth/last-seen.recorder';
import {
  type Admission,
  type FailureLimit,
  type NonceAdmission,
  NonceStore,
} from '../../src/device-auth/nonce-store';
import { signRequest, SignOptions } from '../../src/device-auth/signing';
import { rejected } from './thrown';

// DeviceAuthService through its guard adapter, for the unit specs beside
// device-signature.guard.ts: the rules with fakes for the stores; the e2e
// suites run the same paths against the real database.

export interface FakeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  rawBody?: Buffer;
  body?: unknown;
  device?: Device;
}

/** The devices and live secrets of the fake database, by device id. */
type LiveDevices = Map<string, { device: Device; secrets: LiveSecret[] }>;

/** What the database answers (see DeviceCredentialsRepository.recordNonceIfLive), in memory. */
class MemoryNonceStore extends NonceStore {
  readonly used = new Set<string>();
  /** How far the database's clock is ahead of this process's (ms). */
  databaseClockAheadMs = 0;

  constructor(
    private readonly live: LiveDevices,
    private readonly limits: RateLimitStore,
  ) {
    super();
  }

  async admit(
    deviceId: string,
    secretId: string,
    nonce: string,
    _ttlSeconds: number,
    failures: FailureLimit,
  ): Promise<Admission> {
    const window = await this.limits.peek(failures.key);
    if (window.count >= failures.limit)
      return { outcome: 'limited', retryAfter: window.retryAfter };
    return this.record(deviceId, secretId, nonce);
  }

  private record(deviceId: string, secretId: string, nonce: string): Promise<NonceAdmission> {
    const entry = this.live.get(deviceId);
    if (!entry?.secrets.some((s) => s.secretId === secretId)) {
      return Promise.resolve({ outcome: 'not_live' });
    }
    const key = `${deviceId}:${nonce}`;
    if (this.used.has(key)) return Promise.resolve({ outcome: 'replayed' });
    this.used.add(key);
    return Promise.resolve({
      outcome: 'ok',
      device: entry.device,
      checkedAt: new Date(Date.now() + this.databaseClockAheadMs),
    });
  }
}

export const SKEW = 300;
export const NONCE_TTL = 600;
export const ME = '/api/v1/device/me';
export const HEARTBEAT = '/api/v1/device/heartbeat';

/** The route handler the guard runs for: none of the registry's own device routes declares scopes. */
export function contextFor(req: FakeRequest, scopes?: string[]): ExecutionContext {
  const handler = () => undefined;
  if (scopes) Reflect.defineMetadata(DEVICE_SCOPES, scopes, handler);
  return {
    switchToHttp: () => ({ getRequest: () => req }),
    getHandler: () => handler,
    getClass: () => class {},
  } as unknown as ExecutionContext;
}

export function newSecret(): string {
  return `dvs_${randomBytes(32).toString('base64url')}`;
}

/** An active device as the database would load it, for the unit specs; `change` sets fields. */
export function deviceRow(change: Partial<Device> = {}): Device {
  const created = new Date('2026-11-28T09:00:00.000Z');
  return {
    id: randomUUID(),
    userId: randomUUID(),
    name: 'MT5 Main',
    createdAt: created,
    updatedAt: created,
    lastSeenAt: null,
    revokedAt: null,
    expiresAt: null,
    disabledAt: null,
    scopes: [],
    allowedCidrs: [],
    ...change,
  };
}

let ipCounter = 0;
/** Each test gets its own client IP so that the per-IP failure counter of one does not reach another. */
export function freshIp(): string {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

export function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * GET /device/me signed by `deviceId` with `secret`: `sign` adds to what is
 * signed (a nonce, a timestamp), `sent` changes what is sent (the client IP).
 */
export function signedMe(
  deviceId: string,
  secret: string,
  sign: Partial<SignOptions> = {},
  sent: Partial<FakeRequest> = {},
): FakeRequest {
  return signedRequest({ deviceId, secret, method: 'GET', path: ME, ...sign }, sent);
}

/** A request sent exactly as it was signed, unless `overrides` changes what is sent. */
export function signedRequest(
  sign: SignOptions,
  overrides: Partial<FakeRequest> = {},
): FakeRequest {
  return {
    method: sign.method,
    url: sign.path,
    headers: lowerCaseHeaders(signRequest(sign)),
    ip: freshIp(),
    rawBody: sign.body === undefined ? undefined : Buffer.from(sign.body),
    ...overrides,
  };
}

export const rejection = (promise: Promise<unknown>): Promise<ApiError> =>
  rejected(ApiError, promise);

export function codeOf(error: ApiError): string {
  return (error.getResponse() as { code: string }).code;
}

/**
 * The guard over a real DeviceAuthService with in-memory stores, for one
 * describe block: call at its top level, it registers the hooks that reset
 * the spies between tests and close the stores after the last.
 */
export function deviceAuthHarness() {
  const kek = randomBytes(32);
  const sealer = new SecretSealer(kek);
  const strangerSealer = new SecretSealer(randomBytes(32));
  const live: LiveDevices = new Map();
  const findLiveSecrets = jest.fn((id: string) =>
    Promise.resolve([...(live.get(id.toLowerCase())?.secrets ?? [])]),
  );
  const credentials = { findLiveSecrets } as unknown as DeviceCredentialsRepository;
  const keys = new DeviceKeyCache(credentials, sealer);
  const limits = new MemoryRateLimitStore();
  const nonces = new MemoryNonceStore(live, limits);
  const mark = jest.fn();
  const lastSeen = { mark } as unknown as LastSeenRecorder;
  const metrics = new MetricsService();
  const service = new DeviceAuthService(keys, nonces, lastSeen, limits, metrics, {
    skewSeconds: SKEW,
    nonceTtlSeconds: NONCE_TTL,
  });
  const guard = new DeviceSignatureGuard(service, new Reflector());
  let logError: jest.SpyInstance;

  /** Makes exactly these secrets of the device live (an empty list: revoked or deleted). */
  function setLive(device: Device, secrets: string[], by = sealer, aad = device.id): void {
    live.set(device.id, {
      device,
      secrets: secrets.map((secret) => ({ secretId: randomUUID(), ...by.seal(secret, aad) })),
    });
  }

  /** Registers a device with one live secret per entry (current first), sealed by `by`. */
  function addDevice(secrets = [newSecret()], by = sealer): { device: Device; secrets: string[] } {
    const device = deviceRow();
    setLive(device, secrets, by);
    return { device, secrets };
  }

  /**
   * A new device and a request it signed with its secret: GET /device/me
   * unless `sign` says otherwise, sent as signed unless `sent` changes it.
   */
  function signedByNewDevice(
    sign: Partial<SignOptions> = {},
    sent: Partial<FakeRequest> = {},
  ): { device: Device; secrets: string[]; req: FakeRequest } {
    const { device, secrets } = addDevice();
    return { device, secrets, req: signedMe(device.id, secrets[0], sign, sent) };
  }

  /** Freezes Date.now at the middle of the current second and returns that second. */
  function freezeClock(): number {
    const second = Math.floor(Date.now() / 1000);
    jest.spyOn(Date, 'now').mockReturnValue(second * 1000 + 500);
    return second;
  }

  /** The guard refused: the error it threw, and nothing of a success happened. */
  async function refused(req: FakeRequest, status: number, code: ErrorCode): Promise<ApiError> {
    const error = await rejection(guard.canActivate(contextFor(req)));
    expect({ status: error.getStatus(), code: codeOf(error) }).toEqual({ status, code });
    expect(error.code).toBe(code);
    expect(req.device).toBeUndefined();
    expect(mark).not.toHaveBeenCalled();
    return error;
  }

  const nonceRecorded = (deviceId: string, nonce: string) =>
    nonces.used.has(`${deviceId.toLowerCase()}:${nonce}`);

  beforeEach(() => {
    findLiveSecrets.mockClear();
    mark.mockClear();
    logError = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(() => limits.close());

  return {
    kek,
    sealer,
    strangerSealer,
    live,
    findLiveSecrets,
    nonces,
    /** The failure counters, as shared by all instances. */
    limits,
    signedByNewDevice,
    mark,
    metrics,
    service,
    guard,
    /** The spy on Logger#error of the running test. */
    get logError() {
      return logError;
    },
    setLive,
    addDevice,
    freezeClock,
    refused,
    nonceRecorded,
  };
}
