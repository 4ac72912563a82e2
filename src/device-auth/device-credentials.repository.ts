import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { Device } from '../devices/device.entity';
import { DEVICE_COLUMNS } from '../devices/devices.repository';

export interface DeviceWithSecret extends Device {
  sealed: Buffer;
  kekId: string;
}

/** The reads and writes of the device-authentication hot path. */
@Injectable()
export class DeviceCredentialsRepository {
  constructor(@InjectEntityManager() private readonly em: EntityManager) {}

  /**
   * An active device with each of its live secrets (the current one and a
   * previous one still in its grace period), one row per secret, in one
   * query. No rows: unknown, revoked or deleted device.
   */
  findLive(deviceId: string): Promise<DeviceWithSecret[]> {
    return queryRows<DeviceWithSecret>(
      this.em,
      `SELECT ${DEVICE_COLUMNS}, s.sealed, s.kek_id AS "kekId"
       FROM devices JOIN device_secrets s ON s.device_id = devices.id
       WHERE devices.id = $1 AND devices.revoked_at IS NULL
         AND (s.expires_at IS NULL OR s.expires_at > now())
       ORDER BY s.expires_at NULLS FIRST`,
      [deviceId],
    );
  }

  /** Applies many lastSeenAt marks in one statement; never moves a mark backwards. */
  async markSeen(ids: string[], times: Date[]): Promise<void> {
    await queryRows(
      this.em,
      `UPDATE devices d SET last_seen_at = GREATEST(d.last_seen_at, v.at)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
       WHERE d.id = v.id`,
      [ids, times],
    );
  }
}
