import { randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'dvs_';

/** `dvs_` + base64url (no padding) of `bytes` CSPRNG bytes. */
export function generateDeviceSecret(bytes: number): string {
  return SECRET_PREFIX + randomBytes(bytes).toString('base64url');
}
