import { randomBytes, randomUUID } from 'node:crypto';
import { kekId, SecretSealer } from './secret-sealer';

const IV_BYTES = 12;
const TAG_BYTES = 16;

describe('SecretSealer', () => {
  const kek = randomBytes(32);
  const otherKek = randomBytes(32);
  const deviceId = randomUUID();
  const secret = 'dvs_' + randomBytes(32).toString('base64url');

  it('unseals what it sealed', () => {
    const sealer = new SecretSealer(kek);
    const sealed = sealer.seal(secret, deviceId);

    expect(sealed.kekId).toBe(kekId(kek));
    expect(sealer.unseal(sealed, deviceId)).toBe(secret);
  });

  it('round-trips non-ASCII and empty secrets', () => {
    const sealer = new SecretSealer(kek);
    for (const s of ['', 'päßwörd-🔑']) {
      expect(sealer.unseal(sealer.seal(s, deviceId), deviceId)).toBe(s);
    }
  });

  it('uses a fresh IV for every seal, so two seals of one secret differ', () => {
    const sealer = new SecretSealer(kek);
    const a = sealer.seal(secret, deviceId).sealed;
    const b = sealer.seal(secret, deviceId).sealed;

    expect(a.subarray(0, IV_BYTES).equals(b.subarray(0, IV_BYTES))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('lays the blob out as IV + ciphertext + tag', () => {
    const sealed = new SecretSealer(kek).seal(secret, deviceId).sealed;
    expect(sealed.length).toBe(IV_BYTES + Buffer.byteLength(secret) + TAG_BYTES);
  });

  it('does not unseal under another device id (AAD)', () => {
    const sealer = new SecretSealer(kek);
    const sealed = sealer.seal(secret, deviceId);

    expect(() => sealer.unseal(sealed, randomUUID())).toThrow();
  });

  it('rejects a blob with any single flipped byte (IV, ciphertext or tag)', () => {
    const sealer = new SecretSealer(kek);
    const sealed = sealer.seal(secret, deviceId);

    for (let i = 0; i < sealed.sealed.length; i++) {
      const tampered = Buffer.from(sealed.sealed);
      tampered[i] ^= 0x01;
      expect(() => sealer.unseal({ ...sealed, sealed: tampered }, deviceId)).toThrow();
    }
  });

  it('rejects a truncated blob', () => {
    const sealer = new SecretSealer(kek);
    const sealed = sealer.seal(secret, deviceId);

    for (const length of [0, IV_BYTES, IV_BYTES + TAG_BYTES - 1, sealed.sealed.length - 1]) {
      const truncated = { ...sealed, sealed: sealed.sealed.subarray(0, length) };
      expect(() => sealer.unseal(truncated, deviceId)).toThrow();
    }
  });

  it('unseals a secret sealed under the previous KEK while it is configured as previous', () => {
    const sealedUnderOld = new SecretSealer(otherKek).seal(secret, deviceId);
    const rotated = new SecretSealer(kek, otherKek);

    expect(rotated.currentKekId).toBe(kekId(kek));
    expect(rotated.unseal(sealedUnderOld, deviceId)).toBe(secret);
    // New seals use the current KEK, not the previous one.
    expect(rotated.seal(secret, deviceId).kekId).toBe(kekId(kek));
  });

  it('does not unseal a secret sealed under the previous KEK once that KEK is dropped', () => {
    const sealedUnderOld = new SecretSealer(otherKek).seal(secret, deviceId);
    const sealer = new SecretSealer(kek);

    expect(() => sealer.unseal(sealedUnderOld, deviceId)).toThrow();
  });

  it('throws for an unknown kek id', () => {
    const sealer = new SecretSealer(kek);
    const sealed = sealer.seal(secret, deviceId);

    expect(() => sealer.unseal({ ...sealed, kekId: '0123456789abcdef' }, deviceId)).toThrow(
      /0123456789abcdef/,
    );
  });

  it('throws when the kek id names a configured key other than the one that sealed', () => {
    const sealer = new SecretSealer(kek, otherKek);
    const sealed = sealer.seal(secret, deviceId);

    expect(() => sealer.unseal({ ...sealed, kekId: kekId(otherKek) }, deviceId)).toThrow();
  });

  it('does not contain the plaintext in the sealed bytes', () => {
    const sealed = new SecretSealer(kek).seal(secret, deviceId).sealed;

    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect(sealed.includes(Buffer.from(secret.slice(4)))).toBe(false);
  });
});

describe('kekId', () => {
  it('is stable for the same key', () => {
    const key = randomBytes(32);
    expect(kekId(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(kekId(Buffer.from(key))).toBe(kekId(key));
    expect(new SecretSealer(Buffer.from(key)).currentKekId).toBe(kekId(key));
  });

  it('differs across keys', () => {
    const ids = new Set(Array.from({ length: 20 }, () => kekId(randomBytes(32))));
    expect(ids.size).toBe(20);
  });

  it('does not contain the key', () => {
    const key = randomBytes(32);
    const id = kekId(key);

    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      const encoded = key.toString(encoding);
      expect(encoded).not.toContain(id);
      expect(id).not.toContain(encoded.slice(0, 8));
    }
    expect(Buffer.from(id).includes(key.subarray(0, 4))).toBe(false);
  });
});
