import { Injectable } from '@nestjs/common';

/**
 * Tells this instance's caches at once that a device's secrets changed
 * (rotated, revoked, deleted), so they can drop them. A courtesy only: other
 * instances do not hear of it, so nothing may depend on it for correctness;
 * the database decides every request (see DeviceCredentialsRepository).
 */
@Injectable()
export class SecretChanges {
  private readonly listeners: ((deviceId: string) => void)[] = [];

  subscribe(listener: (deviceId: string) => void): void {
    this.listeners.push(listener);
  }

  changed(deviceId: string): void {
    for (const listener of this.listeners) listener(deviceId);
  }
}
