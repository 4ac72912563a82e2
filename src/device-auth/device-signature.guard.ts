import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { tooManyRequests, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { UnparsedBody } from '../common/body-parsers';
import { RateLimitStore } from '../common/rate-limit.store';
import { deviceAuthConfig, DeviceAuthConfig } from '../config/configuration';
import { MetricsService } from '../observability/metrics.service';
import type { AuthenticatedDevice } from './current-device.decorator';
import { DeviceKeyCache } from './device-key-cache';
import { LastSeenRecorder } from './last-seen.recorder';
import { NonceStore } from './nonce-store';
import { canonicalString, HEADER, hmac } from './signing';
import { isUuid } from '../common/uuid';

/** 401 answers one IP, or one device id, may get in a minute before every device request of it is 429. */
export const DEVICE_AUTH_FAILURES_PER_MINUTE = 50;

const TIMESTAMP = /^\d{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
/** Standard base64 of the 32 bytes of an HMAC-SHA256, with its padding. */
const SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;

interface DeviceRequest extends FastifyRequest {
  rawBody?: Buffer;
  device?: AuthenticatedDevice;
}

interface Parsed {
  deviceId: string;
  timestamp: string;
  nonce: string;
  signature: Buffer;
}

class DeviceAuthFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Authenticates a device request signed with HMAC-SHA256 (see signing.ts):
 * strict headers, timestamp within the allowed skew, a signature that one of
 * the device's live secrets produced over the request as sent (method, target,
 * raw body), and a nonce never used before. Keys come from memory; whether
 * the secret is still live is asked of the database with every request, so
 * revocation, rotation and deletion act on the very next request on every
 * instance.
 */
@Injectable()
export class DeviceSignatureGuard implements CanActivate {
  constructor(
    private readonly keys: DeviceKeyCache,
    private readonly nonces: NonceStore,
    private readonly lastSeen: LastSeenRecorder,
    private readonly limits: RateLimitStore,
    private readonly metrics: MetricsService,
    @Inject(deviceAuthConfig.KEY) private readonly cfg: DeviceAuthConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<DeviceRequest>();
    const claimedId = single(req.headers[HEADER.deviceId]);
    const limitKeys = [`device-401:ip:${req.ip}`];
    if (claimedId && isUuid(claimedId)) limitKeys.push(`device-401:id:${claimedId.toLowerCase()}`);
    await this.refuseIfBlocked(limitKeys);
    try {
      req.device = await this.authenticate(req);
    } catch (error) {
      if (!(error instanceof DeviceAuthFailure)) throw error;
      this.metrics.deviceAuth.inc({ result: error.code });
      await Promise.all(limitKeys.map((key) => this.limits.hit(key, 60)));
      throw unauthorized(error.code, error.message);
    }
    this.metrics.deviceAuth.inc({ result: 'ok' });
    // Only now may the client learn that its body could not be parsed.
    if (req.body instanceof UnparsedBody) throw req.body.error;
    return true;
  }

  private async refuseIfBlocked(keys: string[]): Promise<void> {
    const counts = await Promise.all(keys.map((key) => this.limits.peek(key)));
    const blocked = counts.filter((c) => c.count >= DEVICE_AUTH_FAILURES_PER_MINUTE);
    if (blocked.length > 0) {
      this.metrics.deviceAuth.inc({ result: ErrorCode.RateLimited });
      throw tooManyRequests(Math.max(...blocked.map((c) => c.retryAfter)));
    }
  }

  private async authenticate(req: DeviceRequest): Promise<AuthenticatedDevice> {
    const h = parseHeaders(req);
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(h.timestamp)) > this.cfg.skewSeconds) {
      throw new DeviceAuthFailure(
        ErrorCode.TimestampOutOfRange,
        'X-Timestamp is too far from the server time',
      );
    }

    const canonical = canonicalString({
      method: req.method,
      path: req.url,
      timestamp: h.timestamp,
      nonce: h.nonce,
      deviceId: h.deviceId,
      body: req.rawBody,
    });
    const secretId = await this.keys.find(h.deviceId, (key) =>
      timingSafeEqual(hmac(key, canonical), h.signature),
    );
    if (!secretId) {
      throw new DeviceAuthFailure(ErrorCode.InvalidSignature, 'Signature verification failed');
    }

    // Only a verified request may burn a nonce: otherwise anyone could spend a
    // device's future nonces with forged requests. The same round trip checks
    // that the secret that verified is still live.
    const deviceId = h.deviceId.toLowerCase();
    const admission = await this.nonces.admit(
      deviceId,
      secretId,
      h.nonce,
      this.cfg.nonceTtlSeconds,
    );
    if (admission.outcome === 'not_live') {
      this.keys.forget(deviceId);
      throw new DeviceAuthFailure(ErrorCode.InvalidSignature, 'Signature verification failed');
    }
    if (admission.outcome === 'replayed') {
      throw new DeviceAuthFailure(ErrorCode.NonceReplayed, 'This nonce has already been used');
    }
    this.lastSeen.mark(admission.device.id);
    return admission.device;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function parseHeaders(req: FastifyRequest): Parsed {
  const deviceId = single(req.headers[HEADER.deviceId]);
  const timestamp = single(req.headers[HEADER.timestamp]);
  const nonce = single(req.headers[HEADER.nonce]);
  const signature = single(req.headers[HEADER.signature]);
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
