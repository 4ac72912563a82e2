import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { ApiError, tooManyRequests } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { KnownLimitedClients, RateLimitStore } from '../common/rate-limit.store';
import { isUuid } from '../common/uuid';
import { deviceAuthConfig, DeviceAuthConfig } from '../config/configuration';
import { MetricsService } from '../observability/metrics.service';
import type { AuthenticatedDevice } from './current-device.decorator';
import {
  checkCredentialPolicy,
  CREDENTIAL_POLICY_STATUS,
  CredentialPolicyFailure,
} from './credential-policy';
import { DeviceKeyCache } from './device-key-cache';
import { LastSeenRecorder } from './last-seen.recorder';
import { NonceStore } from './nonce-store';
import { canonicalLines, EMPTY_SHA256, HEADER, hmac } from './signing';

/** 401 answers one client IP may get in a minute before every device request from it is 429. */
export const DEVICE_AUTH_FAILURES_PER_MINUTE = 50;

const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
/** Standard base64 of the 32 bytes of an HMAC-SHA256, with its padding. */
const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A device request as the registry sees it, whichever entrance it came through. */
export interface DeviceRequestDescription {
  /** The method of the request the device sent. */
  method: string;
  /** Its request target as sent: path and query string. */
  target: string;
  /**
   * Lower-case hex SHA-256 of the body the registry received. Absent when the
   * registry does not see the body (forward auth): the device's
   * X-Content-SHA256 header then stands for it, the empty body without one.
   */
  bodySha256?: string;
  /** The request headers, names in lower case (Node's IncomingHttpHeaders). */
  headers: Record<string, string | string[] | undefined>;
  /**
   * The original client's address, as TRUST_PROXY defines it: failures are
   * counted per client IP, and a device's allowedCidrs are checked against it.
   */
  clientIp: string;
  /** Scopes the route needs, each of which the device must hold. None: the registry's own routes. */
  requiredScopes?: readonly string[];
}

export type DeviceAuthFailureCode =
  | typeof ErrorCode.DeviceAuthMalformed
  | typeof ErrorCode.TimestampOutOfRange
  | typeof ErrorCode.InvalidSignature
  | typeof ErrorCode.NonceReplayed
  | CredentialPolicyFailure
  | typeof ErrorCode.RateLimited;

const POLICY_MESSAGES: Record<CredentialPolicyFailure, string> = {
  [ErrorCode.DeviceDisabled]: 'This device is disabled',
  [ErrorCode.CredentialExpired]: 'The credential of this device has expired',
  [ErrorCode.IpNotAllowed]: 'This device may not sign requests from this address',
  [ErrorCode.InsufficientScope]: 'This device lacks a scope that this request needs',
};

/** Why a device request was refused; `toApiError()` gives the contract's answer. */
export class DeviceAuthFailure {
  constructor(
    readonly code: DeviceAuthFailureCode,
    readonly message: string,
    /** Only for rate_limited: seconds until the client's window closes. */
    readonly retryAfterSeconds = 0,
  ) {}

  /** 401, except 403 insufficient_scope (a good credential, a route it may not use) and 429. */
  get status(): number {
    if (this.code === ErrorCode.RateLimited) return HttpStatus.TOO_MANY_REQUESTS;
    return (
      CREDENTIAL_POLICY_STATUS[this.code as CredentialPolicyFailure] ?? HttpStatus.UNAUTHORIZED
    );
  }

  toApiError(): ApiError {
    return this.code === ErrorCode.RateLimited
      ? tooManyRequests(this.retryAfterSeconds)
      : new ApiError(this.status, this.code, this.message);
  }
}

export type DeviceAuthResult =
  { ok: true; device: AuthenticatedDevice } | { ok: false; failure: DeviceAuthFailure };

interface Parsed {
  deviceId: string;
  timestamp: string;
  nonce: string;
  signature: Buffer;
}

/**
 * Authenticates a device request signed with HMAC-SHA256 (see signing.ts):
 * strict headers, timestamp within the allowed skew, a signature that one of
 * the device's live secrets produced over the request as sent (method, target,
 * body hash), and a nonce never used before. Keys come from memory (see
 * DeviceKeyCache); whether the secret that verified is still live is asked
 * of the database with every request, in the same statement that records the
 * nonce, so revocation, rotation and deletion act on the very next request on
 * every instance. Then the device's credential policy (disabled, expired,
 * client IP outside allowedCidrs, a required scope missing), read from the
 * row that same statement returned. The guard of the registry's own device
 * routes and the forward-auth endpoint both call it.
 *
 * Requests answered 401 are counted per client IP; once an IP reaches the
 * limit, its requests are 429 until the window closes. The store's window is
 * read alongside the nonce's round trip, and an IP this instance has seen
 * over the limit is refused before any work.
 */
@Injectable()
export class DeviceAuthService {
  private readonly limited = new KnownLimitedClients();

  constructor(
    private readonly keys: DeviceKeyCache,
    private readonly nonces: NonceStore,
    private readonly lastSeen: LastSeenRecorder,
    private readonly limits: RateLimitStore,
    private readonly metrics: MetricsService,
    @Inject(deviceAuthConfig.KEY) private readonly cfg: DeviceAuthConfig,
  ) {}

  async authenticate(req: DeviceRequestDescription): Promise<DeviceAuthResult> {
    // Failures count per client IP only, never per device id: knowing a
    // device's id must not let anyone lock that device out.
    const ip = req.clientIp;
    const known = this.limited.retryAfter(ip);
    if (known > 0) return this.refuse(rateLimited(known));
    try {
      return { ok: true, device: await this.verify(req) };
    } catch (error) {
      if (!(error instanceof DeviceAuthFailure)) throw error;
      // The limit is on requests answered 401: a 403 insufficient_scope is a
      // device with a good credential calling a route it may not use.
      if (error.status !== HttpStatus.UNAUTHORIZED) return this.refuse(error);
      const window = await this.limits.hit(limitKey(ip), 60);
      // The failure that reaches the limit is still answered 401; any request
      // after it is 429, on this instance without asking the store again.
      if (window.count >= DEVICE_AUTH_FAILURES_PER_MINUTE) {
        this.limited.remember(ip, window.retryAfter);
      }
      if (window.count > DEVICE_AUTH_FAILURES_PER_MINUTE) {
        return this.refuse(rateLimited(window.retryAfter));
      }
      return this.refuse(error);
    }
  }

  private refuse(failure: DeviceAuthFailure): DeviceAuthResult {
    this.metrics.deviceAuth.inc({ result: failure.code });
    return { ok: false, failure };
  }

  private async verify(req: DeviceRequestDescription): Promise<AuthenticatedDevice> {
    const h = parseHeaders(req.headers);
    const bodySha256 = this.bodySha256(req);
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(h.timestamp)) > this.cfg.skewSeconds) {
      throw new DeviceAuthFailure(
        ErrorCode.TimestampOutOfRange,
        'X-Timestamp is too far from the server time',
      );
    }

    const canonical = canonicalLines({
      method: req.method,
      path: req.target,
      timestamp: h.timestamp,
      nonce: h.nonce,
      deviceId: h.deviceId,
      bodySha256,
    });
    // Every live key of the device is tried (a placeholder for an unknown
    // device), so the time taken does not tell which, if any, matched.
    const secretId = await this.keys.find(h.deviceId, (key) =>
      timingSafeEqual(hmac(key, canonical), h.signature),
    );
    if (!secretId) throw invalidSignature();

    // Only a verified request may burn a nonce: otherwise anyone could spend a
    // device's future nonces with forged requests. The same round trip checks
    // that the secret that verified is still live; whether failures from this
    // IP (on any instance) have reached the limit is asked at the same time,
    // so the latency is one round trip's. A request refused for the limit
    // leaves its nonce unused.
    const deviceId = h.deviceId.toLowerCase();
    const admission = await this.nonces.admit(
      deviceId,
      secretId,
      h.nonce,
      this.cfg.nonceTtlSeconds,
      {
        key: limitKey(req.clientIp),
        limit: DEVICE_AUTH_FAILURES_PER_MINUTE,
      },
    );
    if (admission.outcome === 'limited') {
      this.limited.remember(req.clientIp, admission.retryAfter);
      throw rateLimited(admission.retryAfter);
    }
    if (admission.outcome === 'not_live') {
      // Revoked, deleted or rotated elsewhere: the held keys are stale.
      this.keys.forget(deviceId);
      throw invalidSignature();
    }
    if (admission.outcome === 'replayed') {
      throw new DeviceAuthFailure(ErrorCode.NonceReplayed, 'This nonce has already been used');
    }
    // The policy is read from the row the statement just returned, never from
    // a cache, so disabling, expiry, CIDR and scope changes act on the very
    // next request on every instance. Only now: nothing is told to someone
    // without the key. The nonce is already burnt, as the contract says.
    const device = admission.device;
    // Expiry by the database's clock, as the owner's list filter judges it.
    const refusal = checkCredentialPolicy(
      device,
      req.clientIp,
      req.requiredScopes ?? [],
      admission.checkedAt,
    );
    if (refusal) throw new DeviceAuthFailure(refusal, POLICY_MESSAGES[refusal]);
    this.lastSeen.mark(device.id);
    this.metrics.deviceAuth.inc({ result: 'ok' });
    return device;
  }

  /** The BODY-SHA256 line: the hash of the received body, else the device's declared one. */
  private bodySha256(req: DeviceRequestDescription): string {
    const declared = req.headers[HEADER.contentSha256];
    if (req.bodySha256 !== undefined) {
      // On a route that reads the body the header is optional, but a
      // declared hash that is not the body's means the body was changed.
      if (declared !== undefined && declared !== req.bodySha256) throw invalidSignature();
      return req.bodySha256;
    }
    if (declared === undefined) return EMPTY_SHA256;
    if (typeof declared !== 'string' || !SHA256_HEX.test(declared)) {
      throw new DeviceAuthFailure(
        ErrorCode.DeviceAuthMalformed,
        'X-Content-SHA256 must be the lower-case hex SHA-256 of the body',
      );
    }
    return declared;
  }
}

const limitKey = (ip: string) => `device-401:ip:${ip}`;

const rateLimited = (retryAfterSeconds: number) =>
  new DeviceAuthFailure(
    ErrorCode.RateLimited,
    'Too many requests, try again later',
    retryAfterSeconds,
  );

const invalidSignature = () =>
  new DeviceAuthFailure(ErrorCode.InvalidSignature, 'Signature verification failed');

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function parseHeaders(headers: DeviceRequestDescription['headers']): Parsed {
  const deviceId = single(headers[HEADER.deviceId]);
  const timestamp = single(headers[HEADER.timestamp]);
  const nonce = single(headers[HEADER.nonce]);
  const signature = single(headers[HEADER.signature]);
  const malformed = (what: string) => new DeviceAuthFailure(ErrorCode.DeviceAuthMalformed, what);
  if (!deviceId || !isUuid(deviceId)) throw malformed('X-Device-Id must be a device id (UUID)');
  if (!timestamp || !TIMESTAMP.test(timestamp))
    throw malformed('X-Timestamp must be Unix time in whole seconds');
  if (!nonce || !NONCE.test(nonce))
    throw malformed('X-Nonce must be 16-128 characters of [A-Za-z0-9_-]');
  if (!signature || !SIGNATURE.test(signature)) {
    throw malformed('X-Signature must be the base64 HMAC-SHA256 of the canonical request');
  }
  return { deviceId, timestamp, nonce, signature: Buffer.from(signature, 'base64') };
}
