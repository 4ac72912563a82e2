import {
  canonicalString,
  CanonicalRequest,
  newNonce,
  sha256Hex,
  signature,
  signRequest,
} from './signing';
import fixtures from './signing.vectors.json';

// The expected values were computed independently (Python hmac/hashlib and
// openssl) and are written out here so that a change to the protocol shows
// in review; the JSON file carries the same values for the other languages.
const SECRET = `dvs_${Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64url')}`;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EXPECTED: Record<string, { canonical: string; signature: string }> = {
  heartbeat: {
    canonical:
      'POST\n/api/v1/device/heartbeat\n1795852800\nn0nce-0123456789abcdef\n' +
      '3f1c2a4e-8b7d-4c6e-9a5f-1d2e3f4a5b6c\n' +
      'f678976ff5e2c21e8bbbd234fdd0ea80e300726c007d50695ffbe133dc1c08b9',
    signature: 'dpMqLPulO8ykbA+W9mhMFeME26jodZdAEgDcuJQAMfk=',
  },
  'me-with-query': {
    canonical:
      'GET\n/api/v1/device/me?verbose=1\n1795852800\nn0nce-0123456789abcdef\n' +
      '3f1c2a4e-8b7d-4c6e-9a5f-1d2e3f4a5b6c\n' +
      EMPTY_SHA256,
    signature: '96HIRnGW2eHwsHhGvenKb6x1tmLQrv2Dx5ZDrKX6P8Y=',
  },
  'order-via-proxy': {
    canonical:
      'PUT\n/orders/42?account=7\n1795852800\nn0nce-0123456789abcdef\n' +
      '3f1c2a4e-8b7d-4c6e-9a5f-1d2e3f4a5b6c\n' +
      '9b2256dda39304d05b7cb0dc49a46953a9d9570645024bf2f890aff723f312a9',
    signature: 'QdCEOx9G5rHlYUMex6lnqg+YT6gmXp5vHNg+oTJw4sk=',
  },
};

type Vector = (typeof fixtures.vectors)[number];

function request(v: Vector, overrides: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return {
    method: v.method,
    path: v.path,
    timestamp: v.timestamp,
    nonce: v.nonce,
    deviceId: v.deviceId,
    body: v.body,
    ...overrides,
  };
}

describe('device request signing', () => {
  it('covers every vector with the documented secret', () => {
    expect(SECRET).toBe('dvs_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8');
    expect(fixtures.vectors.map((v) => v.name).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const v of fixtures.vectors) {
      expect(v.secret).toBe(SECRET);
      expect(v.canonical).toBe(EXPECTED[v.name].canonical);
      expect(v.signature).toBe(EXPECTED[v.name].signature);
    }
  });

  describe.each(fixtures.vectors.map((v) => [v.name, v] as const))('vector %s', (name, v) => {
    const expected = EXPECTED[name];

    it('builds the exact canonical string', () => {
      expect(canonicalString(request(v))).toBe(expected.canonical);
      expect(sha256Hex(v.body)).toBe(v.bodySha256);
    });

    it('signs it to the expected base64', () => {
      expect(signature(v.secret, request(v))).toBe(expected.signature);
    });

    it('hashes the body the same whether it is a string or bytes', () => {
      const bytes = Buffer.from(v.body, 'utf8');
      expect(signature(v.secret, request(v, { body: bytes }))).toBe(expected.signature);
    });

    it('upper-cases the method', () => {
      const lower = request(v, { method: v.method.toLowerCase() });
      expect(canonicalString(lower)).toBe(expected.canonical);
      expect(signature(v.secret, lower)).toBe(expected.signature);
    });

    it('returns the headers of the vector from signRequest() when timestamp and nonce are given', () => {
      const headers = signRequest({
        deviceId: v.deviceId,
        secret: v.secret,
        method: v.method,
        path: v.path,
        body: v.body,
        timestamp: Number(v.timestamp),
        nonce: v.nonce,
      });
      expect(headers).toEqual(v.headers);
      expect(headers).toMatchObject({
        'X-Device-Id': v.deviceId,
        'X-Timestamp': v.timestamp,
        'X-Nonce': v.nonce,
        'X-Signature': expected.signature,
      });
    });

    it('sends X-Content-SHA256 exactly when there is a body', () => {
      const content = (v.headers as Record<string, string>)['X-Content-SHA256'];
      expect(content).toBe(v.body === '' ? undefined : v.bodySha256);
    });
  });

  it('signs nothing but what is given: another nonce gives another signature', () => {
    const v = fixtures.vectors[0];
    expect(signature(v.secret, request(v, { nonce: `${v.nonce}x` }))).not.toBe(v.signature);
  });

  it('hashes a missing body as the empty string', () => {
    expect(sha256Hex('')).toBe(EMPTY_SHA256);
    expect(sha256Hex()).toBe(EMPTY_SHA256);
    expect(sha256Hex(Buffer.alloc(0))).toBe(EMPTY_SHA256);
    const v = fixtures.vectors.find((x) => x.name === 'me-with-query')!;
    expect(canonicalString(request(v, { body: undefined }))).toBe(EXPECTED[v.name].canonical);
  });

  it('makes nonces the server accepts, different every call', () => {
    const nonces = Array.from({ length: 1000 }, () => newNonce());
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{16,128}$/);
    expect(new Set(nonces).size).toBe(nonces.length);
  });

  it('defaults the timestamp to now, in whole seconds', () => {
    const before = Math.floor(Date.now() / 1000);
    const headers = signRequest({
      deviceId: fixtures.vectors[0].deviceId,
      secret: SECRET,
      method: 'GET',
      path: '/api/v1/device/me',
    });
    const after = Math.floor(Date.now() / 1000);
    expect(headers['X-Timestamp']).toMatch(/^\d+$/);
    expect(Number(headers['X-Timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(headers['X-Timestamp'])).toBeLessThanOrEqual(after);
    expect(headers['X-Signature']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});
