import { Logger } from '@nestjs/common';
import { createSecretKey, KeyObject } from 'node:crypto';
import type { SecretChanges } from '../devices/secret-changes';
import type { SecretSealer } from '../devices/secret-sealer';
import type { DeviceCredentialsRepository } from './device-credentials.repository';

/** Devices whose keys are held; past it the least recently used is dropped. */
export const DEVICE_KEY_CACHE_SIZE = 10_000;
/** Keys are looked up again after this long, so a dead secret's key does not stay in memory. */
export const DEVICE_KEY_MAX_AGE_MS = 5 * 60_000;

/** A live secret of a device, unsealed into an HMAC key. */
export interface DeviceKey {
  secretId: string;
  key: KeyObject;
}

export interface DeviceKeyCacheOptions {
  capacity?: number;
  maxAgeMs?: number;
  now?: () => number;
}

interface Entry {
  keys: DeviceKey[];
  loadedAt: number;
}

/** Tried when a device has no live secret, so that path costs what a real check costs. */
const NO_KEY = createSecretKey(Buffer.from('dvs_unknown-device', 'utf8'));

/**
 * The unsealed HMAC keys of recently seen devices, so a signed request
 * neither looks its secrets up nor decrypts them. It only finds which secret
 * signed a request; whether that secret is still live is decided by the
 * database on every request (NonceStore.admit), so a rotation, revocation or
 * deletion on any instance acts at once. When no held key verifies, the keys
 * are looked up again once before the request fails: the device may have
 * rotated on another instance. Unknown devices are not held, so requests
 * with made-up ids cannot push real devices out. Key material is never logged.
 */
export class DeviceKeyCache {
  private readonly logger = new Logger('DeviceKeyCache');
  /** In use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  /** Lookups in flight, shared by concurrent misses of one device. */
  private readonly loading = new Map<string, Promise<DeviceKey[]>>();
  private readonly capacity: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly credentials: DeviceCredentialsRepository,
    private readonly sealer: SecretSealer,
    changes?: SecretChanges,
    options: DeviceKeyCacheOptions = {},
  ) {
    this.capacity = options.capacity ?? DEVICE_KEY_CACHE_SIZE;
    this.maxAgeMs = options.maxAgeMs ?? DEVICE_KEY_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
    changes?.subscribe((deviceId) => this.forget(deviceId));
  }

  /**
   * The id of the device's live secret whose key `verifies`, or null. Every
   * key is tried, so the time taken does not tell which one matched, and a
   * device without keys tries a placeholder.
   */
  async find(deviceId: string, verifies: (key: KeyObject) => boolean): Promise<string | null> {
    const id = deviceId.toLowerCase();
    const entry = this.entries.get(id);
    if (entry && this.now() - entry.loadedAt < this.maxAgeMs) {
      this.entries.delete(id);
      this.entries.set(id, entry);
      const held = match(entry.keys, verifies);
      if (held) return held;
      // A lookup already in flight may have started before the rotation
      // this request follows: look up anew.
      return match(await this.fetch(id), verifies);
    }
    return match(await this.load(id), verifies);
  }

  /** Drops what is held for the device (its secrets changed, or one was found dead). */
  forget(deviceId: string): void {
    const id = deviceId.toLowerCase();
    this.entries.delete(id);
    this.loading.delete(id);
  }

  /** Devices held. */
  get size(): number {
    return this.entries.size;
  }

  private load(id: string): Promise<DeviceKey[]> {
    const pending = this.loading.get(id);
    if (pending) return pending;
    const loading = this.fetch(id).finally(() => {
      if (this.loading.get(id) === loading) this.loading.delete(id);
    });
    this.loading.set(id, loading);
    return loading;
  }

  private async fetch(id: string): Promise<DeviceKey[]> {
    const rows = await this.credentials.findLiveSecrets(id);
    const keys: DeviceKey[] = [];
    for (const row of rows) {
      try {
        // Sealed with the device id as AAD, in PostgreSQL's lower-case form.
        const secret = this.sealer.unseal(row, id);
        keys.push({ secretId: row.secretId, key: createSecretKey(Buffer.from(secret, 'utf8')) });
      } catch (error) {
        this.logger.error(`Cannot unseal a secret of device ${id}: ${(error as Error).message}`);
      }
    }
    if (keys.length > 0) this.hold(id, keys);
    else this.entries.delete(id);
    return keys;
  }

  private hold(id: string, keys: DeviceKey[]): void {
    this.entries.delete(id);
    this.entries.set(id, { keys, loadedAt: this.now() });
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }
}

function match(keys: DeviceKey[], verifies: (key: KeyObject) => boolean): string | null {
  if (keys.length === 0) {
    verifies(NO_KEY);
    return null;
  }
  let found: string | null = null;
  for (const { secretId, key } of keys) if (verifies(key) && !found) found = secretId;
  return found;
}
