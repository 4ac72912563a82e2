import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager, EntityMetadata, Raw } from 'typeorm';
import { PreparedStatement, PreparedStatements } from '../database/prepared-statement';
import { pgError, queryRows } from '../database/query-rows';
import { Device } from '../devices/device.entity';
import type { Sealed } from '../devices/secret-sealer';
import { DeviceNonce } from './device-nonce.entity';

/** A live secret of a device, still sealed. */
export interface LiveSecret extends Sealed {
  secretId: string;
}

/** What the database says about a verified request: the device, or why it is refused. */
export type NonceAdmission =
  | { outcome: 'ok'; device: Device }
  /** The device is gone or revoked, or that secret expired or was rotated away. */
  | { outcome: 'not_live' }
  | { outcome: 'replayed' };

/** The column of the admission statement that says whether the nonce was fresh. */
const FRESH = 'nonce_fresh';

/**
 * `devices."column" AS "property"` for every column of the Device entity.
 * Read from TypeORM's metadata, so the device-authentication statements
 * return whatever the entity has: a column added or renamed there is
 * followed here without a second list to keep in step.
 */
export function deviceSelectList(metadata: EntityMetadata, alias = 'devices'): string {
  return metadata.columns
    .map((c) => `${alias}."${c.databaseName}" AS "${c.propertyPath}"`)
    .join(', ');
}

/**
 * The reads and writes of the device-authentication hot path. Raw SQL,
 * because what must be one statement (liveness of one secret and the nonce,
 * atomically) is beyond TypeORM's query builder.
 */
@Injectable()
export class DeviceCredentialsRepository {
  private readonly metadata: EntityMetadata;
  private readonly statements: PreparedStatements;
  private readonly live: PreparedStatement;
  private readonly admit: PreparedStatement;
  private readonly secrets: PreparedStatement = {
    name: 'device_auth_live_secrets',
    text: `SELECT s.id AS "secretId", s.sealed, s.kek_id AS "kekId"
       FROM devices JOIN device_secrets s ON s.device_id = devices.id
       WHERE devices.id = $1 AND devices.revoked_at IS NULL
         AND (s.expires_at IS NULL OR s.expires_at > now())
       ORDER BY s.expires_at NULLS FIRST`,
  };

  constructor(@InjectEntityManager() private readonly em: EntityManager) {
    this.metadata = em.dataSource.getMetadata(Device);
    this.statements = new PreparedStatements(em.dataSource);
    // The device with this very secret, if both are live: not revoked, the
    // secret neither rotated away (its row is deleted) nor past its grace.
    const liveCte = `SELECT ${deviceSelectList(this.metadata)}
       FROM devices JOIN device_secrets s ON s.device_id = devices.id
       WHERE devices.id = $1 AND s.id = $2 AND devices.revoked_at IS NULL
         AND (s.expires_at IS NULL OR s.expires_at > now())`;
    this.live = { name: 'device_auth_live', text: liveCte };
    // The nonce is inserted only FROM live, so a request whose secret is no
    // longer live does not use it up. An expired row that the purge has not
    // reached yet is taken over, so the purge interval never extends the TTL.
    const id = this.metadata.primaryColumns[0].propertyPath;
    const admitText = `WITH live AS (${liveCte}),
       ins AS (
         INSERT INTO device_nonces (device_id, nonce, expires_at)
         SELECT live."${id}", $3, now() + make_interval(secs => $4) FROM live
         ON CONFLICT (device_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
           WHERE device_nonces.expires_at <= now()
         RETURNING 1)
       SELECT live.*, EXISTS (SELECT 1 FROM ins) AS ${FRESH} FROM live`;
    this.admit = { name: 'device_auth_admit', text: admitText };
  }

  /**
   * The live secrets of an active device (the current one and a previous one
   * still in its grace period), in one query. None: unknown, revoked or
   * deleted device.
   */
  findLiveSecrets(deviceId: string): Promise<LiveSecret[]> {
    return this.statements.run<LiveSecret>(this.secrets, [deviceId]);
  }

  /**
   * One atomic statement: if the device and this very secret are live,
   * records the nonce for `ttlSeconds` and answers the device row; tells a
   * secret no longer live from a replayed nonce. A device deleted meanwhile
   * (the nonce's foreign key fails) is not live, never an error.
   */
  async recordNonceIfLive(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
  ): Promise<NonceAdmission> {
    let rows: Record<string, unknown>[];
    try {
      rows = await this.statements.run(this.admit, [deviceId, secretId, nonce, ttlSeconds]);
    } catch (error) {
      if (pgError(error)?.code === '23503') return { outcome: 'not_live' };
      throw error;
    }
    if (rows.length === 0) return { outcome: 'not_live' };
    if (rows[0][FRESH] !== true) return { outcome: 'replayed' };
    return { outcome: 'ok', device: this.toDevice(rows[0]) };
  }

  /** The device row if the device and this very secret are live (the check above, without a nonce). */
  async findLiveDevice(deviceId: string, secretId: string): Promise<Device | null> {
    const [row] = await this.statements.run<Record<string, unknown>>(this.live, [
      deviceId,
      secretId,
    ]);
    return row ? this.toDevice(row) : null;
  }

  /** Removes the nonces whose time is over; answers how many. */
  async purgeNonces(): Promise<number> {
    const { affected } = await this.em
      .getRepository(DeviceNonce)
      .delete({ expiresAt: Raw((expiresAt) => `${expiresAt} <= now()`) });
    return affected ?? 0;
  }

  /** Applies many lastSeenAt marks in one statement; never moves a mark backwards. */
  async markSeen(ids: string[], times: Date[]): Promise<void> {
    // Raw: an UPDATE … FROM unnest(…) of many rows at once is beyond TypeORM.
    await queryRows(
      this.em,
      `UPDATE devices d SET last_seen_at = GREATEST(d.last_seen_at, v.at)
       FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
       WHERE d.id = v.id`,
      [ids, times],
    );
  }

  /** A raw row as TypeORM would load it (its value conversions and transformers applied). */
  private toDevice(row: Record<string, unknown>): Device {
    const device = {} as Device;
    const driver = this.em.dataSource.driver;
    for (const column of this.metadata.columns) {
      column.setEntityValue(device, driver.prepareHydratedValue(row[column.propertyPath], column));
    }
    return device;
  }
}
