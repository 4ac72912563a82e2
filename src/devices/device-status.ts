/**
 * A device's status is derived, never stored: the timestamps are the one
 * source of truth. Revoked wins over expired, expired over disabled. The SQL
 * expression (for filtering in the database) and the function (for the
 * mapper) say the same thing and are tested against each other.
 */
export const DEVICE_STATUSES = ['active', 'disabled', 'expired', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

export interface DeviceStatusFields {
  revokedAt: Date | null;
  expiresAt: Date | null;
  disabledAt: Date | null;
}

/** An expiry is reached at its instant: `expiresAt <= now` is expired. */
export function deviceStatus(d: DeviceStatusFields, now: Date = new Date()): DeviceStatus {
  if (d.revokedAt) return 'revoked';
  if (d.expiresAt && d.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (d.disabledAt) return 'disabled';
  return 'active';
}

/** `deviceStatus` in SQL over the columns of `devices`, qualified by `table`. */
export function deviceStatusSql(table = 'devices'): string {
  return `CASE
    WHEN ${table}.revoked_at IS NOT NULL THEN 'revoked'
    WHEN ${table}.expires_at <= now() THEN 'expired'
    WHEN ${table}.disabled_at IS NOT NULL THEN 'disabled'
    ELSE 'active' END`;
}
