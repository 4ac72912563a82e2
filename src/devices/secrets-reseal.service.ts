import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { EntityManager } from 'typeorm';
import { queryRows } from '../database/query-rows';
import { SecretSealer } from './secret-sealer';

/**
 * KEK rotation: re-seals every device secret that is not under the current
 * KEK, in batches of short transactions. Idempotent: a second run finds
 * nothing to do. Rows locked by another run are skipped, so two runs at once
 * do not fight.
 */
@Injectable()
export class SecretsResealService {
  constructor(
    @InjectEntityManager() private readonly em: EntityManager,
    private readonly sealer: SecretSealer,
  ) {}

  async resealAll(batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const done = await this.em.transaction(async (tx) => {
        const rows = await queryRows<{
          id: string;
          deviceId: string;
          sealed: Buffer;
          kekId: string;
        }>(
          tx,
          `SELECT id, device_id AS "deviceId", sealed, kek_id AS "kekId" FROM device_secrets
           WHERE kek_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [this.sealer.currentKekId, batchSize],
        );
        for (const row of rows) {
          const resealed = this.sealer.seal(this.sealer.unseal(row, row.deviceId), row.deviceId);
          await queryRows(tx, `UPDATE device_secrets SET sealed = $2, kek_id = $3 WHERE id = $1`, [
            row.id,
            resealed.sealed,
            resealed.kekId,
          ]);
        }
        return rows.length;
      });
      total += done;
      if (done < batchSize) return total;
    }
  }
}
