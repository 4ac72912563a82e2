import { Injectable } from '@nestjs/common';
import { DevicesRepository } from './devices.repository';
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
    private readonly devices: DevicesRepository,
    private readonly sealer: SecretSealer,
  ) {}

  async resealAll(batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const done = await this.devices.transaction(async (tx) => {
        const secrets = await tx.findSecretsToReseal(this.sealer.currentKekId, batchSize);
        for (const secret of secrets) {
          const { deviceId } = secret;
          const resealed = this.sealer.seal(this.sealer.unseal(secret, deviceId), deviceId);
          await tx.resealSecret(secret.id, resealed);
        }
        return secrets.length;
      });
      total += done;
      if (done < batchSize) return total;
    }
  }
}
