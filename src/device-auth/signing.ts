/**
 * The device-signing protocol, as plain functions (no Nest): the server's
 * verifier, the tests and the `device:call` CLI all build the canonical
 * string here.
 *
 *   METHOD \n PATH?QUERY \n X-Timestamp \n X-Nonce \n X-Device-Id \n hex(SHA-256(body))
 *
 * X-Signature = base64(HMAC-SHA256(utf8(secret), canonical string)).
 *
 * A request with a body also carries X-Content-SHA256, the hex SHA-256 of the
 * body: a proxy asking the registry to verify the request (forward auth)
 * passes headers but not the body, so the header is the body line there.
 */
import { createHash, createHmac, KeyObject, randomBytes } from 'node:crypto';

export const HEADER = {
  deviceId: 'x-device-id',
  timestamp: 'x-timestamp',
  nonce: 'x-nonce',
  signature: 'x-signature',
  contentSha256: 'x-content-sha256',
} as const;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

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

/** Hex SHA-256 of a body; an empty one (every GET) is the constant, not hashed again. */
export function sha256Hex(body: Buffer | string = ''): string {
  if (body.length === 0) return EMPTY_SHA256;
  return createHash('sha256').update(body).digest('hex');
}

export function canonicalString(r: CanonicalRequest): string {
  return canonicalLines({ ...r, bodySha256: sha256Hex(r.body ?? '') });
}

/** The canonical string from the body's hash instead of the body (the verifier's side). */
export function canonicalLines(r: Omit<CanonicalRequest, 'body'> & { bodySha256: string }): string {
  return [r.method.toUpperCase(), r.path, r.timestamp, r.nonce, r.deviceId, r.bodySha256].join(
    '\n',
  );
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

export type SignedHeaders = Record<
  'X-Device-Id' | 'X-Timestamp' | 'X-Nonce' | 'X-Signature',
  string
> & {
  'X-Content-SHA256'?: string;
};

/** The headers of a signed device request: the four, and X-Content-SHA256 when there is a body. */
export function signRequest(o: SignOptions): SignedHeaders {
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
  const headers: SignedHeaders = {
    'X-Device-Id': o.deviceId,
    'X-Timestamp': timestamp,
    'X-Nonce': nonce,
    'X-Signature': sig,
  };
  if (o.body !== undefined && o.body.length > 0) headers['X-Content-SHA256'] = sha256Hex(o.body);
  return headers;
}
