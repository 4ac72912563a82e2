import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import {
  EntityManager,
  type FindOptionsWhere,
  IsNull,
  LessThan,
  Not,
  type QueryDeepPartialEntity,
  Repository,
} from 'typeorm';
import { NOW_MS } from '../database/timestamps';
import { User } from '../auth/user.entity';
import { returnedEntities } from '../database/entity-rows';
import type { Sealed } from './secret-sealer';
import { DeviceEvent, type DeviceEventType } from './device-event.entity';
import { DeviceSecret } from './device-secret.entity';
import { Device } from './device.entity';
import { deviceStatusSql, type DeviceStatus } from './device-status';

/** The owner-set part of a device's credential policy. */
export interface DevicePolicy {
  expiresAt: Date | null;
  scopes: string[];
  allowedCidrs: string[];
}

/** What PATCH may change; an absent field keeps its value. */
export type DeviceChange = { name?: string } & Partial<DevicePolicy>;

/**
 * Named, single-purpose queries over devices, their sealed secrets and their
 * events, through their entities. `transaction()` hands out a copy bound to
 * one transaction, so a service can compose these into one atomic unit on
 * one connection.
 */
@Injectable()
export class DevicesRepository {
  private readonly devices: Repository<Device>;
  private readonly secrets: Repository<DeviceSecret>;
  private readonly events: Repository<DeviceEvent>;

  constructor(@InjectEntityManager() private readonly em: EntityManager) {
    this.devices = em.getRepository(Device);
    this.secrets = em.getRepository(DeviceSecret);
    this.events = em.getRepository(DeviceEvent);
  }

  transaction<T>(work: (tx: DevicesRepository) => Promise<T>): Promise<T> {
    return this.em.transaction((em) => work(new DevicesRepository(em)));
  }

  /** Serialises quota checks per owner: concurrent registrations wait here. False if the user is gone. */
  async lockOwner(userId: string): Promise<boolean> {
    const owner = await this.em.getRepository(User).findOne({
      select: { id: true },
      where: { id: userId },
      lock: { mode: 'pessimistic_write' },
    });
    return owner !== null;
  }

  countActive(userId: string): Promise<number> {
    return this.devices.countBy({ userId, revokedAt: IsNull() });
  }

  async insert(
    device: { id: string; userId: string; name: string } & DevicePolicy,
  ): Promise<Device> {
    const result = await this.devices
      .createQueryBuilder()
      .insert()
      .values(device)
      .returning('*')
      .updateEntity(false)
      .execute();
    return returnedEntities(this.devices, result)[0];
  }

  findById(id: string): Promise<Device | null> {
    return this.devices.findOneBy({ id });
  }

  /** Locks the row for the rest of the transaction. */
  findByIdForUpdate(id: string): Promise<Device | null> {
    return this.devices.findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** One page of an owner's devices, newest first, strictly after `after` in that order. */
  listOwned(
    userId: string,
    { status, after, limit }: { status?: DeviceStatus; after?: [string, string]; limit: number },
  ): Promise<Device[]> {
    const query = this.devices
      .createQueryBuilder('device')
      .where({ userId })
      .orderBy('device.createdAt', 'DESC')
      .addOrderBy('device.id', 'DESC')
      .limit(limit);
    if (status) query.andWhere(`${deviceStatusSql('device')} = :status`, { status });
    if (after) {
      query.andWhere(
        '(device.createdAt, device.id) < (:afterCreatedAt::timestamptz, :afterId::uuid)',
        { afterCreatedAt: after[0], afterId: after[1] },
      );
    }
    return query.getMany();
  }

  /** Sets the given fields (the others keep their values) and bumps updatedAt. */
  async update(id: string, change: DeviceChange): Promise<Device> {
    const [updated] = await this.updateReturning({ id }, { ...change, updatedAt: NOW_MS });
    return updated;
  }

  /** Switches a device off (`disabled`) or on; bumps updatedAt. */
  async setDisabled(id: string, disabled: boolean): Promise<Device> {
    const [updated] = await this.updateReturning(
      { id },
      { disabledAt: disabled ? NOW_MS : null, updatedAt: NOW_MS },
    );
    return updated;
  }

  /** Revokes an active device; null when it was already revoked (or is gone). */
  async revoke(id: string): Promise<Device | null> {
    // Only an active device: of two concurrent revocations one sees the row.
    const [revoked] = await this.updateReturning(
      { id, revokedAt: IsNull() },
      { revokedAt: NOW_MS, updatedAt: NOW_MS },
    );
    return revoked ?? null;
  }

  async touch(id: string): Promise<Device> {
    const [updated] = await this.updateReturning({ id }, { updatedAt: NOW_MS });
    return updated;
  }

  async delete(id: string): Promise<void> {
    await this.devices.delete({ id });
  }

  async insertSecret(deviceId: string, { sealed, kekId }: Sealed): Promise<void> {
    await this.secrets.insert({ deviceId, sealed, kekId });
  }

  async deleteAllSecrets(deviceId: string): Promise<void> {
    await this.secrets.delete({ deviceId });
  }

  /**
   * Rotation: the secret that was previous is dropped, and the current one
   * either becomes previous until `graceSeconds` from now or is dropped too.
   * Returns the expiry of the secret now previous (null without grace).
   */
  async retireCurrentSecret(deviceId: string, graceSeconds: number): Promise<Date | null> {
    await this.secrets.delete({ deviceId, expiresAt: Not(IsNull()) });
    if (graceSeconds === 0) {
      await this.deleteAllSecrets(deviceId);
      return null;
    }
    const result = await this.secrets
      .createQueryBuilder()
      .update()
      .set({ expiresAt: () => `${NOW_MS()} + make_interval(secs => :graceSeconds)` })
      .setParameter('graceSeconds', graceSeconds)
      .where({ deviceId, expiresAt: IsNull() })
      .returning(['expiresAt'] satisfies (keyof DeviceSecret)[])
      .execute();
    const [previous] = returnedEntities(this.secrets, result);
    return previous?.expiresAt ?? null;
  }

  /**
   * KEK rotation: a batch of secrets sealed under another KEK than `kekId`,
   * locked for the rest of the transaction. Rows another transaction holds
   * are skipped, so two runs at once share the work instead of waiting.
   */
  findSecretsToReseal(kekId: string, limit: number): Promise<DeviceSecret[]> {
    return this.secrets.find({
      select: { id: true, deviceId: true, sealed: true, kekId: true },
      where: { kekId: Not(kekId) },
      order: { id: 'ASC' },
      take: limit,
      lock: { mode: 'pessimistic_write', onLocked: 'skip_locked' },
    });
  }

  async resealSecret(secretId: string, { sealed, kekId }: Sealed): Promise<void> {
    await this.secrets.update({ id: secretId }, { sealed, kekId });
  }

  async insertEvent(
    deviceId: string,
    type: DeviceEventType,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.events.save(this.events.create({ deviceId, type, details }));
  }

  /** One page of a device's events, newest first; `seq` is a bigint, so a string. */
  listEvents(
    deviceId: string,
    { afterSeq, limit }: { afterSeq?: string; limit: number },
  ): Promise<DeviceEvent[]> {
    const where: FindOptionsWhere<DeviceEvent> = { deviceId };
    if (afterSeq !== undefined) where.seq = LessThan(afterSeq);
    return this.events.find({ where, order: { seq: 'DESC' }, take: limit });
  }

  /**
   * One UPDATE … RETURNING *, the rows as entities. Sets updatedAt itself
   * (`set` must too): TypeORM would otherwise write CURRENT_TIMESTAMP, with
   * microseconds.
   */
  private async updateReturning(
    where: FindOptionsWhere<Device>,
    set: QueryDeepPartialEntity<Device> & { updatedAt: () => string },
  ): Promise<Device[]> {
    const result = await this.devices
      .createQueryBuilder()
      .update()
      .set(set)
      .where(where)
      .returning('*')
      .execute();
    return returnedEntities(this.devices, result);
  }
}
