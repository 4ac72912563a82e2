import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager, EntityMetadata, Raw } from 'typeorm';
import { hydrate, selectList } from '../database/entity-rows';
import { PreparedStatement, PreparedStatements } from '../database/prepared-statement';
import { pgError, queryRows } from '../database/query-rows';
import { answersBySlot, BATCH_SLOT, StatementBatcher } from '../database/statement-batcher';
import { Device } from '../devices/device.entity';
import type { Sealed } from '../devices/secret-sealer';
import { DeviceNonce } from './device-nonce.entity';

/** A live secret of a device, still sealed. */
export interface LiveSecret extends Sealed {
  secretId: string;
}

/**
 * A live device as the database answered it, with the database's time of the
 * check: the credential policy's expiry is judged by that one clock, the one
 * the owner's list filter uses, whatever the clock of this instance says.
 */
export interface LiveDevice {
  device: Device;
  checkedAt: Date;
}

/** What the database says about a verified request: the device, or why it is refused. */
export type NonceAdmission =
  | ({ outcome: 'ok' } & LiveDevice)
  /** The device is gone or revoked, or that secret expired or was rotated away. */
  | { outcome: 'not_live' }
  | { outcome: 'replayed' };

/** The column of the admission statement that says whether the nonce was fresh. */
const FRESH = 'nonce_fresh';
/** The batch statement's column with a request's nonce. */
const NONCE = 'request_nonce';
/** The statements' column with the database's now(). */
const CHECKED_AT = 'checked_at';
/**
 * Admission batches running at once, in PostgreSQL and in Redis. Measured on
 * signed GET /device/me (npm run bench, 50 in flight): see the README's
 * Performance section.
 */
export const BATCHES_IN_FLIGHT = 2;

interface AdmissionRequest {
  deviceId: string;
  secretId: string;
  nonce: string;
  ttlSeconds: number;
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
  private readonly admit: PreparedStatement;
  private readonly admitBatch: PreparedStatement;
  private readonly liveBatch: PreparedStatement;
  private readonly liveChecks: StatementBatcher<
    { deviceId: string; secretId: string },
    LiveDevice | null
  >;
  private readonly admissions: StatementBatcher<AdmissionRequest, NonceAdmission>;
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
    const liveCte = `SELECT now() AS ${CHECKED_AT}, ${selectList(this.metadata, 'devices')}
       FROM devices JOIN device_secrets s ON s.device_id = devices.id
       WHERE devices.id = $1 AND s.id = $2 AND devices.revoked_at IS NULL
         AND (s.expires_at IS NULL OR s.expires_at > now())`;
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
    // The same for a batch of requests (arrays in, one row per live request
    // out, tagged with its place in the batch): one statement and one commit
    // for all the requests that arrived together.
    const batchText = `WITH req AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY
           AS r(device_id, secret_id, nonce, i)),
       live AS (
         SELECT req.i AS ${BATCH_SLOT}, req.nonce AS ${NONCE}, now() AS ${CHECKED_AT},
           ${selectList(this.metadata, 'devices')}
         FROM req JOIN devices ON devices.id = req.device_id
         JOIN device_secrets s ON s.device_id = devices.id AND s.id = req.secret_id
         WHERE devices.revoked_at IS NULL
           AND (s.expires_at IS NULL OR s.expires_at > now())),
       ins AS (
         INSERT INTO device_nonces (device_id, nonce, expires_at)
         SELECT live."${id}", live.${NONCE}, now() + make_interval(secs => $4) FROM live
         ON CONFLICT (device_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
           WHERE device_nonces.expires_at <= now()
         RETURNING device_id, nonce)
       SELECT live.*, EXISTS (
         SELECT 1 FROM ins WHERE ins.device_id = live."${id}" AND ins.nonce = live.${NONCE}
       ) AS ${FRESH} FROM live`;
    this.admitBatch = { name: 'device_auth_admit_batch', text: batchText };
    this.liveBatch = {
      name: 'device_auth_live_batch',
      text: `SELECT r.i AS ${BATCH_SLOT}, now() AS ${CHECKED_AT}, ${selectList(this.metadata, 'devices')}
       FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS r(device_id, secret_id, i)
       JOIN devices ON devices.id = r.device_id
       JOIN device_secrets s ON s.device_id = devices.id AND s.id = r.secret_id
       WHERE devices.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())`,
    };
    this.liveChecks = new StatementBatcher((r) => this.liveAll(r), BATCHES_IN_FLIGHT);
    this.admissions = new StatementBatcher(
      (requests) => this.admitAll(requests),
      BATCHES_IN_FLIGHT,
      (r) => `${r.deviceId}:${r.nonce}`,
    );
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
  recordNonceIfLive(
    deviceId: string,
    secretId: string,
    nonce: string,
    ttlSeconds: number,
  ): Promise<NonceAdmission> {
    return this.admissions.run({ deviceId, secretId, nonce, ttlSeconds });
  }

  /** recordNonceIfLive for the requests of one batch, in one statement. */
  private async admitAll(requests: AdmissionRequest[]): Promise<NonceAdmission[]> {
    if (requests.length === 1) return [await this.admitOne(requests[0])];
    const ttl = requests[0].ttlSeconds;
    if (requests.some((r) => r.ttlSeconds !== ttl)) {
      return Promise.all(requests.map((r) => this.admitOne(r)));
    }
    let rows: Record<string, unknown>[];
    try {
      rows = await this.statements.run(this.admitBatch, [
        requests.map((r) => r.deviceId),
        requests.map((r) => r.secretId),
        requests.map((r) => r.nonce),
        ttl,
      ]);
    } catch (error) {
      // A device of the batch was deleted meanwhile (the nonce's foreign key
      // failed) and the whole statement with it: each request on its own.
      if (pgError(error)?.code === '23503') {
        return Promise.all(requests.map((r) => this.admitOne(r)));
      }
      throw error;
    }
    return answersBySlot<NonceAdmission>(
      requests.length,
      rows,
      (row) => this.admission(row),
      () => ({ outcome: 'not_live' }),
    );
  }

  private async admitOne(r: AdmissionRequest): Promise<NonceAdmission> {
    let rows: Record<string, unknown>[];
    try {
      rows = await this.statements.run(this.admit, [r.deviceId, r.secretId, r.nonce, r.ttlSeconds]);
    } catch (error) {
      if (pgError(error)?.code === '23503') return { outcome: 'not_live' };
      throw error;
    }
    return rows.length === 0 ? { outcome: 'not_live' } : this.admission(rows[0]);
  }

  private admission(row: Record<string, unknown>): NonceAdmission {
    if (row[FRESH] !== true) return { outcome: 'replayed' };
    const { device, checkedAt } = this.toLiveDevice(row);
    return { outcome: 'ok', device, checkedAt };
  }

  /**
   * The device row if the device and this very secret are live (the check
   * above, without a nonce); the checks that arrive together in one statement.
   */
  findLiveDevice(deviceId: string, secretId: string): Promise<LiveDevice | null> {
    return this.liveChecks.run({ deviceId, secretId });
  }

  private async liveAll(requests: { deviceId: string; secretId: string }[]) {
    const rows = await this.statements.run<Record<string, unknown>>(this.liveBatch, [
      requests.map((r) => r.deviceId),
      requests.map((r) => r.secretId),
    ]);
    return answersBySlot<LiveDevice | null>(
      requests.length,
      rows,
      (row) => this.toLiveDevice(row),
      () => null,
    );
  }

  /** Forgets one recorded nonce (a verified request refused after all, see NonceStore.release). */
  async releaseNonce(deviceId: string, nonce: string): Promise<void> {
    await this.em.getRepository(DeviceNonce).delete({ deviceId, nonce });
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

  private toLiveDevice(row: Record<string, unknown>): LiveDevice {
    return {
      device: hydrate<Device>(this.em.dataSource, this.metadata, row),
      checkedAt: row[CHECKED_AT] as Date,
    };
  }
}
