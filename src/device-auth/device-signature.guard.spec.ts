import { ExecutionContext, Logger } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '../common/api-error';
import { UnparsedBody } from '../common/body-parsers';
import { ErrorCode } from '../common/error-codes';
import { MemoryRateLimitStore } from '../common/rate-limit.store';
import type { Device } from '../devices/device.entity';
import { SecretSealer } from '../devices/secret-sealer';
import { MetricsService } from '../observability/metrics.service';
import type {
  DeviceCredentialsRepository,
  DeviceWithSecret,
} from './device-credentials.repository';
import { DEVICE_AUTH_FAILURES_PER_MINUTE, DeviceAuthService } from './device-auth.service';
import { DeviceSignatureGuard } from './device-signature.guard';
import type { LastSeenRecorder } from './last-seen.recorder';
import { NonceOutcome, NonceStore } from './nonce-store';
import { sha256Hex, signRequest, SignOptions } from './signing';
import { rejected } from '../../test/support/thrown';

interface FakeRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  ip: string;
  rawBody?: Buffer;
  body?: unknown;
  device?: Device;
}

class MemoryNonceStore extends NonceStore {
  readonly used = new Set<string>();

  remember(deviceId: string, nonce: string, _ttlSeconds: number): Promise<NonceOutcome> {
    const key = `${deviceId}:${nonce}`;
    if (this.used.has(key)) return Promise.resolve('replayed');
    this.used.add(key);
    return Promise.resolve('fresh');
  }
}

const SKEW = 300;
const NONCE_TTL = 600;
const ME = '/api/v1/device/me';
const HEARTBEAT = '/api/v1/device/heartbeat';

function contextFor(req: FakeRequest): ExecutionContext {
  return {
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

function newSecret(): string {
  return `dvs_${randomBytes(32).toString('base64url')}`;
}

function deviceRow(): Device {
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
  };
}

let ipCounter = 0;
/** Each test gets its own client IP so that the per-IP failure counter of one does not reach another. */
function freshIp(): string {
  ipCounter++;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** A request sent exactly as it was signed, unless `overrides` changes what is sent. */
function signedRequest(sign: SignOptions, overrides: Partial<FakeRequest> = {}): FakeRequest {
  return {
    method: sign.method,
    url: sign.path,
    headers: lowerCaseHeaders(signRequest(sign)),
    ip: freshIp(),
    rawBody: sign.body === undefined ? undefined : Buffer.from(sign.body),
    ...overrides,
  };
}

const rejection = (promise: Promise<unknown>): Promise<ApiError> => rejected(ApiError, promise);

function codeOf(error: ApiError): string {
  return (error.getResponse() as { code: string }).code;
}

// DeviceAuthService through its guard adapter: the rules with fakes for the
// stores; the e2e suites run the same paths against the real database.
describe('DeviceSignatureGuard over DeviceAuthService', () => {
  const kek = randomBytes(32);
  const sealer = new SecretSealer(kek);
  const strangerSealer = new SecretSealer(randomBytes(32));
  const liveRows = new Map<string, DeviceWithSecret[]>();
  const findLive = jest.fn((id: string) =>
    Promise.resolve([...(liveRows.get(id.toLowerCase()) ?? [])]),
  );
  const credentials = { findLive } as unknown as DeviceCredentialsRepository;
  const nonces = new MemoryNonceStore();
  const mark = jest.fn();
  const lastSeen = { mark } as unknown as LastSeenRecorder;
  const limits = new MemoryRateLimitStore();
  const metrics = new MetricsService();
  const service = new DeviceAuthService(credentials, sealer, nonces, lastSeen, limits, metrics, {
    skewSeconds: SKEW,
    nonceTtlSeconds: NONCE_TTL,
  });
  const guard = new DeviceSignatureGuard(service);
  let logError: jest.SpyInstance;

  /** Registers a device with one live secret per entry (current first), sealed by `by`. */
  function addDevice(secrets = [newSecret()], by = sealer): { device: Device; secrets: string[] } {
    const device = deviceRow();
    liveRows.set(
      device.id,
      secrets.map((secret) => ({ ...device, ...by.seal(secret, device.id) })),
    );
    return { device, secrets };
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
    findLive.mockClear();
    mark.mockClear();
    logError = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(() => limits.close());

  describe('success', () => {
    it('returns true, puts the device without its sealed secret on the request, marks it seen and records the nonce', async () => {
      const { device, secrets } = addDevice();
      const nonce = 'nonce-success-0001';
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'POST',
        path: `${HEARTBEAT}?x=1`,
        body: '{"battery":91}',
        nonce,
      });
      const remember = jest.spyOn(nonces, 'remember');

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);

      expect(req.device).toEqual(device);
      expect(req.device).not.toHaveProperty('sealed');
      expect(req.device).not.toHaveProperty('kekId');
      expect(mark).toHaveBeenCalledTimes(1);
      expect(mark).toHaveBeenCalledWith(device.id);
      expect(findLive).toHaveBeenCalledWith(device.id);
      expect(remember).toHaveBeenCalledWith(device.id, nonce, NONCE_TTL);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });

    it('accepts a GET without a body', async () => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(req.device?.id).toBe(device.id);
    });

    it.each([16, 128])('accepts a nonce of %i characters', async (length) => {
      const { device, secrets } = addDevice();
      const nonce = 'N'.repeat(length);
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });
  });

  describe('malformed headers → 401 device_auth_malformed', () => {
    const HEADERS = ['x-device-id', 'x-timestamp', 'x-nonce', 'x-signature'] as const;

    /**
     * A correctly signed request whose signature has a '+' or '/' in it, so that
     * its base64url spelling differs from its base64 one.
     */
    function validRequest(): FakeRequest {
      const { device, secrets } = addDevice();
      for (;;) {
        const req = signedRequest({
          deviceId: device.id,
          secret: secrets[0],
          method: 'GET',
          path: ME,
        });
        if (/[+/]/.test(req.headers['x-signature'] as string)) return req;
      }
    }

    it('starts from a request the guard accepts', async () => {
      const req = validRequest();

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
    });

    it.each(HEADERS)('rejects a request without %s', async (name) => {
      const req = validRequest();
      delete req.headers[name];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each(HEADERS)('rejects a request with %s given twice', async (name) => {
      const req = validRequest();
      const value = req.headers[name] as string;
      req.headers[name] = [value, value];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each(HEADERS)('rejects an empty %s', async (name) => {
      const req = validRequest();
      req.headers[name] = '';

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each([
      ['not a UUID', 'not-a-uuid'],
      ['a UUID with a trailing character', `${randomUUID()}0`],
      ['a UUID without dashes', randomUUID().replace(/-/g, '')],
      ['a UUID in braces', `{${randomUUID()}}`],
      ['an integer id', '42'],
    ])('rejects an X-Device-Id that is %s', async (_what, id) => {
      const { secrets } = addDevice();
      const req = signedRequest({ deviceId: id, secret: secrets[0], method: 'GET', path: ME });

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(findLive).not.toHaveBeenCalled();
    });

    const now = () => Math.floor(Date.now() / 1000);
    it.each([
      ['non-numeric', () => 'yesterday'],
      ['an ISO date', () => new Date().toISOString()],
      ['fractional', () => `${now()}.5`],
      ['negative', () => `-${now()}`],
      ['13 digits (milliseconds)', () => String(Date.now())],
      ['14 digits', () => `0${Date.now()}`],
      ['space-padded', () => ` ${now()}`],
      ['signed with a plus', () => `+${now()}`],
    ])('rejects an X-Timestamp that is %s', async (_what, timestamp) => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        timestamp: timestamp(),
      });

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each([
      ['of 15 characters', 'a'.repeat(15)],
      ['of 129 characters', 'a'.repeat(129)],
      ['with a "!"', 'abcdefghijklmnop!'],
      ['with a "."', 'abcdefgh.ijklmnop'],
      ['with a "+"', 'abcdefgh+ijklmnop'],
      ['with a space', 'abcdefgh ijklmnop'],
      ['with a non-ASCII letter', 'abcdefghijklmnopé'],
    ])('rejects an X-Nonce %s', async (_what, nonce) => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(nonceRecorded(device.id, nonce)).toBe(false);
    });

    const raw = (req: FakeRequest) => Buffer.from(req.headers['x-signature'] as string, 'base64');
    it.each([
      ['not base64', () => '!'.repeat(43) + '='],
      ['base64url', (req: FakeRequest) => raw(req).toString('base64url')],
      ['base64url with padding', (req: FakeRequest) => `${raw(req).toString('base64url')}=`],
      [
        'base64 without its padding',
        (req: FakeRequest) => raw(req).toString('base64').replace(/=$/, ''),
      ],
      ['hex', (req: FakeRequest) => raw(req).toString('hex')],
      ['31 bytes long', (req: FakeRequest) => raw(req).subarray(0, 31).toString('base64')],
      [
        '33 bytes long',
        (req: FakeRequest) => Buffer.concat([raw(req), Buffer.from([0])]).toString('base64'),
      ],
      [
        '64 bytes long',
        (req: FakeRequest) => Buffer.concat([raw(req), raw(req)]).toString('base64'),
      ],
      ['surrounded by spaces', (req: FakeRequest) => ` ${raw(req).toString('base64')} `],
    ])('rejects an X-Signature that is %s', async (_what, make) => {
      const req = validRequest();
      const original = req.headers['x-signature'];
      req.headers['x-signature'] = make(req);
      expect(req.headers['x-signature']).not.toBe(original);

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it('checks nothing in the repository for a malformed request', async () => {
      const req = validRequest();
      req.headers['x-signature'] = 'AAAA';

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(findLive).not.toHaveBeenCalled();
    });
  });

  describe('timestamp skew', () => {
    it.each([
      ['301 s in the past', -301],
      ['301 s in the future', 301],
      ['a day in the past', -86_400],
      ['zero (1970)', null],
    ])('rejects a timestamp %s with 401 timestamp_out_of_range', async (_what, offset) => {
      const now = freezeClock();
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        timestamp: offset === null ? 0 : now + offset,
      });

      await refused(req, 401, ErrorCode.TimestampOutOfRange);
      expect(nonceRecorded(device.id, req.headers['x-nonce'] as string)).toBe(false);
    });

    it.each([
      ['299 s in the past', -299],
      ['299 s in the future', 299],
      ['exactly 300 s in the past', -300],
      ['exactly 300 s in the future', 300],
    ])('accepts a timestamp %s', async (_what, offset) => {
      const now = freezeClock();
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        timestamp: now + offset,
      });

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(mark).toHaveBeenCalledWith(device.id);
    });
  });

  describe('signature → 401 invalid_signature', () => {
    it('rejects an unknown device, after looking it up', async () => {
      const id = randomUUID();
      const req = signedRequest({ deviceId: id, secret: newSecret(), method: 'GET', path: ME });

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(findLive).toHaveBeenCalledWith(id);
      expect(nonceRecorded(id, req.headers['x-nonce'] as string)).toBe(false);
    });

    it('rejects an unknown device signed with the placeholder secret of the unknown-device path', async () => {
      const id = randomUUID();
      const req = signedRequest({
        deviceId: id,
        secret: 'dvs_unknown-device',
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a request signed with another secret', async () => {
      const { device } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: newSecret(),
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it("rejects a request signed with another device's secret", async () => {
      const { device } = addDevice();
      const other = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: other.secrets[0],
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    type Signed = Omit<SignOptions, 'deviceId' | 'secret'>;
    const GET_ME: Signed = { method: 'GET', path: ME };
    const POST_BODY: Signed = { method: 'POST', path: HEARTBEAT, body: '{"a":1}' };
    it.each<[string, Signed, Partial<FakeRequest>]>([
      ['a different body', POST_BODY, { rawBody: Buffer.from('{"a":2}') }],
      ['a body when the request has none', POST_BODY, { rawBody: undefined }],
      [
        'an empty body when the request has one',
        { method: 'POST', path: HEARTBEAT },
        { rawBody: Buffer.from('{}') },
      ],
      ['a different path', GET_ME, { url: HEARTBEAT }],
      ['a different query', { method: 'GET', path: `${ME}?verbose=1` }, { url: `${ME}?verbose=2` }],
      ['no query when one is sent', GET_ME, { url: `${ME}?verbose=1` }],
      ['a query when none is sent', { method: 'GET', path: `${ME}?verbose=1` }, { url: ME }],
      [
        'the same query in another order',
        { method: 'GET', path: `${ME}?a=1&b=2` },
        { url: `${ME}?b=2&a=1` },
      ],
      ['a different method', { method: 'GET', path: HEARTBEAT }, { method: 'POST' }],
    ])('rejects a signature over %s', async (_what, signed, sent) => {
      const { device, secrets } = addDevice();
      const req = signedRequest({ deviceId: device.id, secret: secrets[0], ...signed }, sent);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a signature with one bit flipped', async () => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      const sig = Buffer.from(req.headers['x-signature'] as string, 'base64');
      sig[0] ^= 1;
      req.headers['x-signature'] = sig.toString('base64');

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a signature whose X-Nonce was changed after signing', async () => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      req.headers['x-nonce'] = 'another-nonce-0000';

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(nonceRecorded(device.id, 'another-nonce-0000')).toBe(false);
    });

    it('rejects a signature whose X-Timestamp was changed after signing', async () => {
      const { device, secrets } = addDevice();
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      req.headers['x-timestamp'] = String(Number(req.headers['x-timestamp']) - 1);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });
  });

  describe('secret rotation and sealing', () => {
    it('accepts both the current and the previous secret during the grace period', async () => {
      const { device, secrets } = addDevice([newSecret(), newSecret()]);

      for (const secret of secrets) {
        mark.mockClear();
        const req = signedRequest({ deviceId: device.id, secret, method: 'GET', path: ME });

        await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
        expect(req.device).toEqual(device);
        expect(req.device).not.toHaveProperty('sealed');
        expect(req.device).not.toHaveProperty('kekId');
        expect(mark).toHaveBeenCalledWith(device.id);
      }
    });

    it('rejects the previous secret once its grace period is over', async () => {
      const [current, previous] = [newSecret(), newSecret()];
      const { device } = addDevice([current, previous]);
      liveRows.set(device.id, [{ ...device, ...sealer.seal(current, device.id) }]);
      const req = signedRequest({ deviceId: device.id, secret: previous, method: 'GET', path: ME });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a device with no live rows (revoked) with invalid_signature', async () => {
      const { device, secrets } = addDevice();
      liveRows.set(device.id, []);
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('answers 401 invalid_signature, not 500, for a secret sealed under an unknown KEK, and does not log the secret', async () => {
      const { device, secrets } = addDevice([newSecret()], strangerSealer);
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);

      expect(logError).toHaveBeenCalledTimes(1);
      const logged = logError.mock.calls.map((args: unknown[]) => JSON.stringify(args)).join('\n');
      expect(logged).toContain(device.id);
      expect(logged).not.toContain(secrets[0]);
      expect(logged).not.toContain(secrets[0].slice(4));
      expect(logged).not.toContain(kek.toString('base64'));
    });

    it('rejects a sealed secret copied from another device (its AAD does not match)', async () => {
      const victim = addDevice();
      const intruder = deviceRow();
      liveRows.set(intruder.id, [
        { ...intruder, ...sealer.seal(victim.secrets[0], victim.device.id) },
      ]);
      const req = signedRequest({
        deviceId: intruder.id,
        secret: victim.secrets[0],
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(logError).toHaveBeenCalled();
    });
  });

  describe('nonces', () => {
    it('rejects a replayed nonce with 401 nonce_replayed', async () => {
      const { device, secrets } = addDevice();
      const sign = {
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce: 'replay-nonce-0001',
      };
      const first = signedRequest(sign);
      await expect(guard.canActivate(contextFor(first))).resolves.toBe(true);
      mark.mockClear();

      const again = signedRequest(sign);
      await refused(again, 401, ErrorCode.NonceReplayed);
    });

    it('rejects a replay that differs only in the case of X-Device-Id', async () => {
      const { device, secrets } = addDevice();
      const nonce = 'replay-nonce-case1';
      const first = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });
      await expect(guard.canActivate(contextFor(first))).resolves.toBe(true);
      mark.mockClear();

      const upper = signedRequest({
        deviceId: device.id.toUpperCase(),
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });
      await refused(upper, 401, ErrorCode.NonceReplayed);
    });

    it('lets another device use the same nonce', async () => {
      const nonce = 'shared-nonce-00001';
      for (const { device, secrets } of [addDevice(), addDevice()]) {
        const req = signedRequest({
          deviceId: device.id,
          secret: secrets[0],
          method: 'GET',
          path: ME,
          nonce,
        });
        await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      }
    });

    it('does not record the nonce of a rejected request, so a later valid request may use it', async () => {
      const now = freezeClock();
      const { device, secrets } = addDevice();
      const nonce = 'rejected-nonce-0001';
      const ip = freshIp();
      const base = { deviceId: device.id, method: 'GET', path: ME, nonce };

      // Forged: right nonce, wrong secret.
      await refused(
        signedRequest({ ...base, secret: newSecret() }, { ip }),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, timestamp out of range.
      await refused(
        signedRequest({ ...base, secret: secrets[0], timestamp: now - 301 }, { ip }),
        401,
        ErrorCode.TimestampOutOfRange,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, tampered body.
      await refused(
        signedRequest(
          { ...base, secret: secrets[0], body: '{}' },
          { ip, rawBody: Buffer.from('{ }') },
        ),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      const valid = signedRequest({ ...base, secret: secrets[0] }, { ip });
      await expect(guard.canActivate(contextFor(valid))).resolves.toBe(true);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });
  });

  describe('failure limits → 429 rate_limited', () => {
    const LIMIT = DEVICE_AUTH_FAILURES_PER_MINUTE;

    function retryAfterOf(error: ApiError): number {
      const value = error.headers['Retry-After'];
      expect(value).toMatch(/^\d+$/);
      return Number(value);
    }

    it('is 50 failures a minute', () => {
      expect(LIMIT).toBe(50);
    });

    it('blocks an IP after 50 failures, even for a valid request of another device', async () => {
      const ip = freshIp();
      const forged = () =>
        signedRequest(
          { deviceId: randomUUID(), secret: newSecret(), method: 'GET', path: ME },
          { ip },
        );
      for (let i = 0; i < LIMIT - 1; i++) await refused(forged(), 401, ErrorCode.InvalidSignature);
      // The 50th failure is still answered 401 …
      await refused(forged(), 401, ErrorCode.InvalidSignature);

      // … and from then on every device request from that IP is 429.
      const { device, secrets } = addDevice();
      findLive.mockClear();
      const valid = signedRequest(
        { deviceId: device.id, secret: secrets[0], method: 'GET', path: ME },
        { ip },
      );
      const error = await refused(valid, 429, ErrorCode.RateLimited);

      const retryAfter = retryAfterOf(error);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(findLive).not.toHaveBeenCalled();
      expect(nonceRecorded(device.id, valid.headers['x-nonce'] as string)).toBe(false);

      // Another IP is not affected.
      const elsewhere = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      await expect(guard.canActivate(contextFor(elsewhere))).resolves.toBe(true);
    });

    it('counts malformed and skewed requests as failures too', async () => {
      const ip = freshIp();
      for (let i = 0; i < LIMIT; i++) {
        const req = signedRequest(
          {
            deviceId: randomUUID(),
            secret: newSecret(),
            method: 'GET',
            path: ME,
            timestamp: i % 2 ? 0 : undefined,
          },
          { ip },
        );
        if (i % 2 === 0) req.headers['x-nonce'] = 'short';
        await refused(
          req,
          401,
          i % 2 ? ErrorCode.TimestampOutOfRange : ErrorCode.DeviceAuthMalformed,
        );
      }
      const { device, secrets } = addDevice();
      const valid = signedRequest(
        { deviceId: device.id, secret: secrets[0], method: 'GET', path: ME },
        { ip },
      );

      await refused(valid, 429, ErrorCode.RateLimited);
    });

    it('never counts failures against a device id: 50 forged requests with its id from one IP leave it working elsewhere', async () => {
      const { device, secrets } = addDevice();
      const attacker = freshIp();
      for (let i = 0; i < LIMIT; i++) {
        const forged = signedRequest(
          { deviceId: device.id, secret: newSecret(), method: 'GET', path: ME },
          { ip: attacker },
        );
        await refused(forged, 401, ErrorCode.InvalidSignature);
      }
      await refused(
        signedRequest(
          { deviceId: device.id, secret: secrets[0], method: 'GET', path: ME },
          { ip: attacker },
        ),
        429,
        ErrorCode.RateLimited,
      );

      const valid = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      await expect(guard.canActivate(contextFor(valid))).resolves.toBe(true);
      expect(valid.device?.id).toBe(device.id);
    });
  });

  describe('deferred body errors', () => {
    it('throws the UnparsedBody error of an authenticated request', async () => {
      const { device, secrets } = addDevice();
      const bodyError = new ApiError(
        400,
        ErrorCode.ValidationFailed,
        'Request body is not valid JSON',
      );
      const req = signedRequest(
        { deviceId: device.id, secret: secrets[0], method: 'POST', path: HEARTBEAT, body: '{"a":' },
        { body: new UnparsedBody(bodyError) },
      );

      const error = await rejection(guard.canActivate(contextFor(req)));
      expect(error).toBe(bodyError);
      expect(error.getStatus()).toBe(400);
      expect(codeOf(error)).toBe('validation_failed');
    });

    it('throws a deferred 415 the same way', async () => {
      const { device, secrets } = addDevice();
      const bodyError = new ApiError(
        415,
        ErrorCode.UnsupportedMediaType,
        'Unsupported content type',
      );
      const req = signedRequest(
        {
          deviceId: device.id,
          secret: secrets[0],
          method: 'POST',
          path: HEARTBEAT,
          body: 'plain text',
        },
        { body: new UnparsedBody(bodyError) },
      );

      const error = await rejection(guard.canActivate(contextFor(req)));
      expect(error.getStatus()).toBe(415);
      expect(codeOf(error)).toBe('unsupported_media_type');
    });

    it('answers 401 first when a request with an unparsed body is badly signed', async () => {
      const { device } = addDevice();
      const bodyError = new ApiError(
        400,
        ErrorCode.ValidationFailed,
        'Request body is not valid JSON',
      );
      const req = signedRequest(
        {
          deviceId: device.id,
          secret: newSecret(),
          method: 'POST',
          path: HEARTBEAT,
          body: '{"a":',
        },
        { body: new UnparsedBody(bodyError) },
      );

      const error = await refused(req, 401, ErrorCode.InvalidSignature);
      expect(error).not.toBe(bodyError);
    });

    it('answers 401 first when a request with an unparsed body is malformed', async () => {
      const { device, secrets } = addDevice();
      const bodyError = new ApiError(
        400,
        ErrorCode.ValidationFailed,
        'Request body is not valid JSON',
      );
      const req = signedRequest(
        { deviceId: device.id, secret: secrets[0], method: 'POST', path: HEARTBEAT, body: '{"a":' },
        { body: new UnparsedBody(bodyError) },
      );
      delete req.headers['x-signature'];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });
  });

  describe('DeviceAuthService for a forward-auth description (no body seen)', () => {
    const ORDER = '/api/orders?account=7';
    const BODY = '{"lots":0.1}';

    function described(sign: SignOptions, headers: Record<string, string> = {}) {
      return {
        method: sign.method,
        target: sign.path,
        headers: { ...lowerCaseHeaders(signRequest(sign)), ...lowerCaseHeaders(headers) },
        clientIp: freshIp(),
      };
    }

    it('answers the device, taking the body line from X-Content-SHA256', async () => {
      const { device, secrets } = addDevice();
      const sign = {
        deviceId: device.id,
        secret: secrets[0],
        method: 'PUT',
        path: ORDER,
        body: BODY,
      };

      const result = await service.authenticate(described(sign));

      expect(result).toEqual({ ok: true, device });
      expect(mark).toHaveBeenCalledWith(device.id);
    });

    it('takes the empty body without X-Content-SHA256', async () => {
      const { device, secrets } = addDevice();
      const sign = { deviceId: device.id, secret: secrets[0], method: 'DELETE', path: ORDER };

      await expect(service.authenticate(described(sign))).resolves.toMatchObject({ ok: true });
    });

    it.each([
      ['a hash of another body', sha256Hex('{"lots":100}'), ErrorCode.InvalidSignature],
      ['upper-case hex', sha256Hex(BODY).toUpperCase(), ErrorCode.DeviceAuthMalformed],
      ['not a hash', 'abc', ErrorCode.DeviceAuthMalformed],
    ])('answers a typed failure, without throwing, for %s', async (_what, hash, code) => {
      const { device, secrets } = addDevice();
      const sign = {
        deviceId: device.id,
        secret: secrets[0],
        method: 'PUT',
        path: ORDER,
        body: BODY,
      };

      const result = await service.authenticate(described(sign, { 'X-Content-SHA256': hash }));

      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.failure.code).toBe(code);
      expect(result.failure.toApiError().getStatus()).toBe(401);
      expect(mark).not.toHaveBeenCalled();
    });
  });

  describe('a deletion racing the nonce', () => {
    it('answers invalid_signature when the nonce store no longer knows the device', async () => {
      const { device, secrets } = addDevice();
      jest.spyOn(nonces, 'remember').mockResolvedValueOnce('unknown_device');
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });
  });

  describe('metrics', () => {
    async function sample(result: string): Promise<number | undefined> {
      const text = await metrics.registry.getSingleMetricAsString('device_auth_total');
      const match = new RegExp(`^device_auth_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
        text,
      );
      return match ? Number(match[1]) : undefined;
    }

    it('counts device_auth_total by result', async () => {
      const okBefore = (await sample('ok')) ?? 0;
      const badBefore = (await sample('invalid_signature')) ?? 0;
      const { device, secrets } = addDevice();

      const ok = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
      });
      await expect(guard.canActivate(contextFor(ok))).resolves.toBe(true);
      mark.mockClear();
      const bad = signedRequest({
        deviceId: device.id,
        secret: newSecret(),
        method: 'GET',
        path: ME,
      });
      await refused(bad, 401, ErrorCode.InvalidSignature);

      expect(await sample('ok')).toBe(okBefore + 1);
      expect(await sample('invalid_signature')).toBe(badBefore + 1);
    });
  });
});
