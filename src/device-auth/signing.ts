/**
 * The device-signing protocol, as plain functions (no Nest): the server's
 * verifier, the tests and the `device:call` CLI all build the canonical
 * string here.
 *
 *   METHOD \n PATH?QUERY \n X-Timestamp \n X-Nonce \n X-Device-Id \n hex(SHA-256(body))
 *
 * X-Signature = base64(HMAC-SHA256(utf8(secret), canonical string)).
 */
import { createHash, createHmac, KeyObject, randomBytes } from 'node:crypto';

export const HEADER = {
  deviceId: 'x-device-id',
  timestamp: 'x-timestamp',
  nonce: 'x-nonce',
  signature: 'x-signature',
} as const;

export interface CanonicalRequest {
  method: string;
  /** The request target as sent: path and query string. */
  path: string;
  timestamp: string;
  nonce: string;
  deviceId: string;
  /** Raw body bytes; empty when there is no body. */
  body?: Buffer | string;
}

export function sha256Hex(body: Buffer | string = ''): string {
  return createHash('sha256').update(body).digest('hex');
}

export function canonicalString(r: CanonicalRequest): string {
  return [
    r.method.toUpperCase(),
    r.path,
    r.timestamp,
    r.nonce,
    r.deviceId,
    sha256Hex(r.body ?? ''),
  ].join('\n');
}

/**
 * Raw HMAC-SHA256 of the canonical string under the secret's UTF-8 bytes (`dvs_` included),
 * or under a key object made of those bytes once (the server's key cache).
 */
export function hmac(secret: string | KeyObject, canonical: string): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  return createHmac('sha256', key).update(canonical, 'utf8').digest();
}

export function signature(secret: string, r: CanonicalRequest): string {
  return hmac(secret, canonicalString(r)).toString('base64');
}

/** 24 characters of [A-Za-z0-9_-]. */
export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

export interface SignOptions {
  deviceId: string;
  secret: string;
  method: string;
  path: string;
  body?: Buffer | string;
  /** Unix seconds; default now. */
  timestamp?: number | string;
  nonce?: string;
}

/** The four headers of a signed device request. */
export function signRequest(
  o: SignOptions,
): Record<'X-Device-Id' | 'X-Timestamp' | 'X-Nonce' | 'X-Signature', string> {
  const timestamp = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? newNonce();
  const sig = signature(o.secret, {
    method: o.method,
    path: o.path,
    timestamp,
    nonce,
    deviceId: o.deviceId,
    body: o.body,
  });
  return {
    'X-Device-Id': o.deviceId,
    'X-Timestamp': timestamp,
    'X-Nonce': nonce,
    'X-Signature': sig,
  };
}
