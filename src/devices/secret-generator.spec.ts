import { generateDeviceSecret, SECRET_PREFIX } from './secret-generator';

describe('generateDeviceSecret', () => {
  it('starts with dvs_', () => {
    expect(SECRET_PREFIX).toBe('dvs_');
    expect(generateDeviceSecret(32).startsWith('dvs_')).toBe(true);
  });

  it.each([32, 48])('is base64url without padding of exactly %i bytes', (bytes) => {
    const secret = generateDeviceSecret(bytes);
    const encoded = secret.slice('dvs_'.length);

    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(encoded.length).toBe(Math.ceil((bytes * 4) / 3));
    const decoded = Buffer.from(encoded, 'base64url');
    expect(decoded.length).toBe(bytes);
    // Re-encoding gives the same text: it is canonical base64url, nothing dropped.
    expect(decoded.toString('base64url')).toBe(encoded);
  });

  it('is different every call', () => {
    const secrets = new Set(Array.from({ length: 100 }, () => generateDeviceSecret(32)));
    expect(secrets.size).toBe(100);
  });
});
