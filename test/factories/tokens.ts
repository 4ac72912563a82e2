import { createHmac } from 'node:crypto';

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A JWT built by hand, so tests control every part of it: the algorithm in the
 * header, the claims and the key (HS256), or no signature at all (`alg: none`).
 */
export function signJwt(
  payload: Record<string, unknown>,
  secret: string,
  alg: 'HS256' | 'none' = 'HS256',
): string {
  const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  const signature =
    alg === 'none' ? '' : createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

/** The decoded header and claims of a JWT (no verification). */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [header, payload] = token.split('.');
  const parse = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: parse(header), payload: parse(payload) };
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
