import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A KEK is named by a short digest of itself, so sealed rows say which key opens them. */
export function kekId(kek: Buffer): string {
  return createHash('sha256')
    .update('device-registry-kek\0')
    .update(kek)
    .digest('hex')
    .slice(0, 16);
}

export interface Sealed {
  sealed: Buffer;
  kekId: string;
}

/**
 * Seals device secrets at rest with AES-256-GCM: a fresh 12-byte IV per
 * seal, the device id as additional authenticated data (a sealed secret
 * copied onto another device does not open), and the KEK's id beside it so
 * the KEK can rotate. Sealed, not hashed: verifying an HMAC needs the secret.
 */
export class SecretSealer {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKekId: string;

  constructor(current: Buffer, previous?: Buffer) {
    this.currentKekId = kekId(current);
    this.keys.set(this.currentKekId, current);
    if (previous) this.keys.set(kekId(previous), previous);
  }

  seal(secret: string, deviceId: string): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKekId)!, iv);
    cipher.setAAD(Buffer.from(deviceId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return { sealed: Buffer.concat([iv, body, cipher.getAuthTag()]), kekId: this.currentKekId };
  }

  /** Throws when the KEK is unknown or the data, the IV, the tag or the device id do not match. */
  unseal({ sealed, kekId: id }: Sealed, deviceId: string): string {
    const key = this.keys.get(id);
    if (!key) throw new Error(`No key-encryption key with id ${id} is configured`);
    if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('Sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(deviceId));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  }
}
