import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { badRequest, conflict, deviceNotFound, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { decodeCursor, PageQueryDto, toPage } from '../common/pagination';
import { devicesConfig, DevicesConfig } from '../config/configuration';
import { pgError } from '../database/query-rows';
import { MetricsService } from '../observability/metrics.service';
import { generateDeviceSecret } from './secret-generator';
import { policyOf, toDeviceDto, toDeviceEventDto } from './device.mapper';
import type { Device } from './device.entity';
import { type DeviceChange, type DevicePolicy, DevicesRepository } from './devices.repository';
import { CreateDeviceDto, ListDevicesQueryDto, UpdateDeviceDto } from './dto/device-requests.dto';
import {
  DeviceDto,
  DeviceEventListDto,
  DeviceListDto,
  DeviceWithSecretDto,
  RotatedDeviceDto,
} from './dto/device-responses.dto';
import { SecretChanges } from './secret-changes';
import { SecretSealer } from './secret-sealer';
import { isUuid } from '../common/uuid';

// The time must be exactly what toISOString() writes for a real timestamp:
// Date.parse also accepts forms PostgreSQL refuses ("1", "2026-02-30…",
// "+275760-…"), which would end in a 500.
const ISO_TIME = /^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isIsoTime = (s: string) => {
  const time = Date.parse(s);
  return ISO_TIME.test(s) && !Number.isNaN(time) && new Date(time).toISOString() === s;
};
const isDeviceCursor = (k: unknown[]): k is [string, string] =>
  k.length === 2 &&
  typeof k[0] === 'string' &&
  isIsoTime(k[0]) &&
  typeof k[1] === 'string' &&
  isUuid(k[1]);
const isEventCursor = (k: unknown[]): k is [string] =>
  k.length === 1 && typeof k[0] === 'string' && /^\d{1,18}$/.test(k[0]);

const POLICY_FIELDS = ['expiresAt', 'scopes', 'allowedCidrs'] as const;

/** The request's policy fields as the repository takes them; absent fields stay absent. */
function policyChange(body: {
  expiresAt?: string | null;
  scopes?: string[];
  allowedCidrs?: string[];
}): Partial<DevicePolicy> {
  const change: Partial<DevicePolicy> = {};
  if (body.expiresAt !== undefined)
    change.expiresAt = body.expiresAt === null ? null : new Date(body.expiresAt);
  if (body.scopes !== undefined) change.scopes = body.scopes;
  if (body.allowedCidrs !== undefined) change.allowedCidrs = body.allowedCidrs;
  return change;
}

/**
 * The rules of the owner side: quotas, unique names, the secret lifecycle
 * and the audit trail. Every change is one transaction; the invariants
 * themselves are held by the database (row lock per owner, partial unique index).
 */
@Injectable()
export class DevicesService {
  constructor(
    private readonly devices: DevicesRepository,
    private readonly sealer: SecretSealer,
    private readonly metrics: MetricsService,
    @Inject(devicesConfig.KEY) private readonly cfg: DevicesConfig,
    private readonly secretChanges: SecretChanges,
  ) {}

  async register(
    userId: string,
    { name, ...policyFields }: CreateDeviceDto,
  ): Promise<DeviceWithSecretDto> {
    const policy: DevicePolicy = {
      expiresAt: null,
      scopes: [],
      allowedCidrs: [],
      ...policyChange(policyFields),
    };
    const id = randomUUID();
    const secret = generateDeviceSecret(this.cfg.secretBytes);
    const sealed = this.sealer.seal(secret, id);
    const device = await this.uniqueName(() =>
      this.devices.transaction(async (tx) => {
        // The owner's row lock serialises concurrent registrations, so the
        // count below cannot be raced past the quota.
        if (!(await tx.lockOwner(userId)))
          throw unauthorized(ErrorCode.Unauthorized, 'User no longer exists');
        if ((await tx.countActive(userId)) >= this.cfg.maxDevicesPerUser) {
          throw conflict(
            ErrorCode.DeviceLimitReached,
            `At most ${this.cfg.maxDevicesPerUser} active devices per user; revoke or delete one first`,
          );
        }
        const created = await tx.insert({ id, userId, name, ...policy });
        await tx.insertSecret(id, sealed);
        // The policy fields the owner gave, as stored.
        const shown = policyOf(created);
        const given = POLICY_FIELDS.filter((f) => policyFields[f] !== undefined);
        await tx.insertEvent(id, 'registered', { name, ...pick(shown, given) });
        return created;
      }),
    );
    this.metrics.devicesRegistered.inc();
    return { ...toDeviceDto(device), secret };
  }

  async list(
    userId: string,
    { status, cursor, limit }: ListDevicesQueryDto,
  ): Promise<DeviceListDto> {
    const after = cursor ? decodeCursor<[string, string]>(cursor, isDeviceCursor) : undefined;
    const rows = await this.devices.listOwned(userId, { status, after, limit: limit + 1 });
    return toPage(rows, limit, toDeviceDto, (d) => [d.createdAt.toISOString(), d.id]);
  }

  /**
   * Rename and policy change in one. Fields equal to the current values are
   * not changes; a request that changes nothing is answered with the device
   * as it is, and writes no event.
   */
  async update(device: Device, body: UpdateDeviceDto): Promise<DeviceDto> {
    const requested: DeviceChange = { ...policyChange(body) };
    if (body.name !== undefined) requested.name = body.name;
    if (Object.keys(requested).length === 0) {
      throw badRequest(
        ErrorCode.ValidationFailed,
        'Give at least one of name, expiresAt, scopes, allowedCidrs',
      );
    }
    const updated = await this.uniqueName(() =>
      this.devices.transaction(async (tx) => {
        const current = await this.lockActive(tx, device.id);
        const before = policyOf(current);
        const wanted = policyOf({ ...current, ...requested });
        const changedPolicy = POLICY_FIELDS.filter(
          (f) => requested[f] !== undefined && !sameValue(before[f], wanted[f]),
        );
        const renamed = requested.name !== undefined && requested.name !== current.name;
        if (!renamed && changedPolicy.length === 0) return current;

        const change: DeviceChange = pick(requested, changedPolicy);
        if (renamed) change.name = requested.name;
        const after = await tx.update(device.id, change);
        if (renamed) {
          await tx.insertEvent(device.id, 'renamed', { from: current.name, to: after.name });
        }
        if (changedPolicy.length > 0) {
          await tx.insertEvent(device.id, 'policy_changed', {
            before: pick(before, changedPolicy),
            after: pick(policyOf(after), changedPolicy),
          });
        }
        return after;
      }),
    );
    return toDeviceDto(updated);
  }

  /**
   * Switches the device off or on. Idempotent: disabling a disabled device
   * keeps the first disabledAt and writes no second event. The row lock
   * makes concurrent calls see each other's result.
   */
  async setDisabled(device: Device, disabled: boolean): Promise<void> {
    await this.devices.transaction(async (tx) => {
      const current = await this.lockActive(tx, device.id);
      if ((current.disabledAt !== null) === disabled) return;
      await tx.setDisabled(device.id, disabled);
      await tx.insertEvent(device.id, disabled ? 'disabled' : 'enabled');
    });
  }

  /** Idempotent: a second revoke changes nothing and keeps the first revokedAt. */
  async revoke(device: Device): Promise<void> {
    const revoked = await this.devices.transaction(async (tx) => {
      const updated = await tx.revoke(device.id);
      if (!updated) return false;
      await tx.deleteAllSecrets(device.id);
      await tx.insertEvent(device.id, 'revoked');
      return true;
    });
    this.secretChanges.changed(device.id);
    if (revoked) this.metrics.devicesRevoked.inc();
  }

  async rotateSecret(device: Device, graceSeconds: number): Promise<RotatedDeviceDto> {
    const secret = generateDeviceSecret(this.cfg.secretBytes);
    const sealed = this.sealer.seal(secret, device.id);
    const { updated, previousSecretExpiresAt } = await this.devices.transaction(async (tx) => {
      await this.lockActive(tx, device.id);
      const expiresAt = await tx.retireCurrentSecret(device.id, graceSeconds);
      await tx.insertSecret(device.id, sealed);
      await tx.insertEvent(device.id, 'secret_rotated', { graceSeconds });
      return { updated: await tx.touch(device.id), previousSecretExpiresAt: expiresAt };
    });
    this.secretChanges.changed(device.id);
    return {
      ...toDeviceDto(updated),
      secret,
      previousSecretExpiresAt: previousSecretExpiresAt?.toISOString() ?? null,
    };
  }

  async delete(device: Device): Promise<void> {
    await this.devices.delete(device.id);
    this.secretChanges.changed(device.id);
  }

  async events(device: Device, { cursor, limit }: PageQueryDto): Promise<DeviceEventListDto> {
    const after = cursor ? decodeCursor<[string]>(cursor, isEventCursor)[0] : undefined;
    const rows = await this.devices.listEvents(device.id, { afterSeq: after, limit: limit + 1 });
    return toPage(rows, limit, toDeviceEventDto, (e) => [e.seq]);
  }

  /** Locks the device row; a device deleted meanwhile is 404, a revoked one 409. */
  private async lockActive(tx: DevicesRepository, id: string): Promise<Device> {
    const current = await tx.findByIdForUpdate(id);
    if (!current) throw deviceNotFound();
    if (current.revokedAt) throw conflict(ErrorCode.DeviceRevoked, 'The device is revoked');
    return current;
  }

  /** The partial unique index decides name clashes, also between concurrent requests. */
  private async uniqueName<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const pg = pgError(error);
      if (pg?.code === '23505' && pg.constraint === 'uq_devices_user_active_name') {
        throw conflict(
          ErrorCode.DeviceNameTaken,
          'You already have an active device with this name',
        );
      }
      throw error;
    }
  }
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const k of keys) picked[k] = from[k];
  return picked;
}

/** Equality of policy values as shown: a time string or null, or a list of strings. */
function sameValue(a: string | null | string[], b: string | null | string[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
