import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import type { Sealed } from './secret-sealer';
import type { DeviceEventType } from './device-event.entity';
import type { Device } from './device.entity';
import { deviceStatusSql, type DeviceStatus } from './device-status';

/** The columns of a `Device` row, for any query over `devices` (also device authentication's). */
export const DEVICE_COLUMNS = `devices.id, devices.user_id AS "userId", devices.name,
  devices.created_at AS "createdAt", devices.updated_at AS "updatedAt",
  devices.last_seen_at AS "lastSeenAt", devices.revoked_at AS "revokedAt",
  devices.expires_at AS "expiresAt", devices.disabled_at AS "disabledAt",
  devices.scopes, devices.allowed_cidrs AS "allowedCidrs"`;

/** The owner-set part of a device's credential policy. */
export interface DevicePolicy {
  expiresAt: Date | null;
  scopes: string[];
  allowedCidrs: string[];
}

/** What PATCH may change; an absent field keeps its value. */
export type DeviceChange = { name?: string } & Partial<DevicePolicy>;

export interface DeviceEventRow {
  seq: string;
  id: string;
  type: DeviceEventType;
  at: Date;
  details: Record<string, unknown>;
}

/**
 * Named, single-purpose queries over devices, their sealed secrets and their
 * events. `transaction()` hands out a copy bound to one transaction, so a
 * service can compose these into one atomic unit on one connection.
 */
@Injectable()
export class DevicesRepository {
  constructor(@InjectEntityManager() private readonly em: EntityManager) {}

  transaction<T>(work: (tx: DevicesRepository) => Promise<T>): Promise<T> {
    return this.em.transaction((em) => work(new DevicesRepository(em)));
  }

  /** Serialises quota checks per owner: concurrent registrations wait here. False if the user is gone. */
  async lockOwner(userId: string): Promise<boolean> {
    const rows = await queryRows(this.em, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, [userId]);
    return rows.length === 1;
  }

  async countActive(userId: string): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      this.em,
      `SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId],
    );
    return row.n;
  }

  async insert(
    device: { id: string; userId: string; name: string } & DevicePolicy,
  ): Promise<Device> {
    const [row] = await queryRows<Device>(
      this.em,
      `INSERT INTO devices (id, user_id, name, expires_at, scopes, allowed_cidrs)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${DEVICE_COLUMNS}`,
      [device.id, device.userId, device.name, device.expiresAt, device.scopes, device.allowedCidrs],
    );
    return row;
  }

  async findById(id: string): Promise<Device | null> {
    const [row] = await queryRows<Device>(
      this.em,
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`,
      [id],
    );
    return row ?? null;
  }

  /** Locks the row for the rest of the transaction. */
  async findByIdForUpdate(id: string): Promise<Device | null> {
    const [row] = await queryRows<Device>(
      this.em,
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return row ?? null;
  }

  /** One page of an owner's devices, newest first, strictly after `after` in that order. */
  listOwned(
    userId: string,
    { status, after, limit }: { status?: DeviceStatus; after?: [string, string]; limit: number },
  ): Promise<Device[]> {
    const params: unknown[] = [userId, limit];
    let where = 'user_id = $1';
    if (status) {
      params.push(status);
      where += ` AND ${deviceStatusSql()} = $${params.length}`;
    }
    if (after) {
      params.push(after[0], after[1]);
      where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    return queryRows<Device>(
      this.em,
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
  }

  /** Sets the given fields (the others keep their values) and bumps updatedAt. */
  async update(id: string, change: DeviceChange): Promise<Device> {
    const [row] = await queryRows<Device>(
      this.em,
      `UPDATE devices SET
         name = CASE WHEN $2 THEN $3 ELSE name END,
         expires_at = CASE WHEN $4 THEN $5::timestamptz ELSE expires_at END,
         scopes = CASE WHEN $6 THEN $7::varchar(64)[] ELSE scopes END,
         allowed_cidrs = CASE WHEN $8 THEN $9::cidr[] ELSE allowed_cidrs END,
         updated_at = date_trunc('milliseconds', now())
       WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
      [
        id,
        change.name !== undefined,
        change.name ?? null,
        change.expiresAt !== undefined,
        change.expiresAt ?? null,
        change.scopes !== undefined,
        change.scopes ?? null,
        change.allowedCidrs !== undefined,
        change.allowedCidrs ?? null,
      ],
    );
    return row;
  }

  /** Switches a device off (`disabled`) or on; bumps updatedAt. */
  async setDisabled(id: string, disabled: boolean): Promise<Device> {
    const [row] = await queryRows<Device>(
      this.em,
      `UPDATE devices SET
         disabled_at = CASE WHEN $2 THEN date_trunc('milliseconds', now()) END,
         updated_at = date_trunc('milliseconds', now())
       WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
      [id, disabled],
    );
    return row;
  }

  /** Revokes an active device; null when it was already revoked (or is gone). */
  async revoke(id: string): Promise<Device | null> {
    const [row] = await queryRows<Device>(
      this.em,
      `UPDATE devices SET revoked_at = date_trunc('milliseconds', now()),
         updated_at = date_trunc('milliseconds', now())
       WHERE id = $1 AND revoked_at IS NULL RETURNING ${DEVICE_COLUMNS}`,
      [id],
    );
    return row ?? null;
  }

  async touch(id: string): Promise<Device> {
    const [row] = await queryRows<Device>(
      this.em,
      `UPDATE devices SET updated_at = date_trunc('milliseconds', now()) WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
      [id],
    );
    return row;
  }

  async delete(id: string): Promise<void> {
    await queryRows(this.em, `DELETE FROM devices WHERE id = $1`, [id]);
  }

  async insertSecret(deviceId: string, { sealed, kekId }: Sealed): Promise<void> {
    await queryRows(
      this.em,
      `INSERT INTO device_secrets (device_id, sealed, kek_id) VALUES ($1, $2, $3)`,
      [deviceId, sealed, kekId],
    );
  }

  async deleteAllSecrets(deviceId: string): Promise<void> {
    await queryRows(this.em, `DELETE FROM device_secrets WHERE device_id = $1`, [deviceId]);
  }

  /**
   * Rotation: the secret that was previous is dropped, and the current one
   * either becomes previous until `graceSeconds` from now or is dropped too.
   * Returns the expiry of the secret now previous (null without grace).
   */
  async retireCurrentSecret(deviceId: string, graceSeconds: number): Promise<Date | null> {
    await queryRows(
      this.em,
      `DELETE FROM device_secrets WHERE device_id = $1 AND expires_at IS NOT NULL`,
      [deviceId],
    );
    if (graceSeconds === 0) {
      await this.deleteAllSecrets(deviceId);
      return null;
    }
    const [row] = await queryRows<{ expiresAt: Date }>(
      this.em,
      `UPDATE device_secrets
       SET expires_at = date_trunc('milliseconds', now()) + make_interval(secs => $2)
       WHERE device_id = $1 AND expires_at IS NULL RETURNING expires_at AS "expiresAt"`,
      [deviceId, graceSeconds],
    );
    return row?.expiresAt ?? null;
  }

  async insertEvent(
    deviceId: string,
    type: DeviceEventType,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await queryRows(
      this.em,
      `INSERT INTO device_events (device_id, type, details) VALUES ($1, $2, $3)`,
      [deviceId, type, JSON.stringify(details)],
    );
  }

  // ORDER BY names the table's column: a bare `seq` would mean the text alias
  // of the select list and sort 10 before 9.
  listEvents(
    deviceId: string,
    { afterSeq, limit }: { afterSeq?: string; limit: number },
  ): Promise<DeviceEventRow[]> {
    return queryRows<DeviceEventRow>(
      this.em,
      `SELECT seq::text AS seq, id, type, at, details FROM device_events
       WHERE device_id = $1 AND ($3::bigint IS NULL OR seq < $3::bigint)
       ORDER BY device_events.seq DESC LIMIT $2`,
      [deviceId, limit, afterSeq ?? null],
    );
  }
}
