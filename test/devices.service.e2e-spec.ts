import { randomBytes } from 'node:crypto';
import { IsNull } from 'typeorm';
import { ApiError } from '../src/common/api-error';
import { ErrorCode } from '../src/common/error-codes';
import { User } from '../src/auth/user.entity';
import { DeviceAuthService } from '../src/device-auth/device-auth.service';
import { signRequest } from '../src/device-auth/signing';
import { Device } from '../src/devices/device.entity';
import { DevicesService } from '../src/devices/devices.service';
import { createTestContext, TestContext } from './app';
import { uniqueName } from './factories/devices';
import { clientIp } from './factories/users';
import { rejected } from './support/thrown';

const QUOTA = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The service tier: the rules of DevicesService called directly, on the real
 * database with the migrations applied (PostgreSQL when DATABASE_URL is set,
 * PGlite otherwise), without HTTP. Whether a secret still works is asked of
 * DeviceAuthService, as a device request would be.
 */
describe('DevicesService on the real database', () => {
  let ctx: TestContext;
  let devices: DevicesService;
  let deviceAuth: DeviceAuthService;

  beforeAll(async () => {
    ctx = await createTestContext({ env: { MAX_DEVICES_PER_USER: String(QUOTA) } });
    devices = ctx.module.get(DevicesService);
    deviceAuth = ctx.module.get(DeviceAuthService);
  });
  afterAll(() => ctx?.close());

  const newOwner = async (): Promise<string> => {
    const user = await ctx.dataSource.getRepository(User).save({
      email: `owner-${randomBytes(6).toString('hex')}@example.com`,
      passwordHash: 'not a hash: nobody logs in here',
    });
    return user.id;
  };
  const register = (ownerId: string, name = uniqueName()) => devices.register(ownerId, { name });
  const row = (id: string) => ctx.dataSource.getRepository(Device).findOneByOrFail({ id });
  const eventTypes = async (id: string) =>
    (await devices.events(await row(id), { limit: 100 })).items.map((e) => e.type);
  const activeCount = (ownerId: string) =>
    ctx.dataSource.getRepository(Device).countBy({ userId: ownerId, revokedAt: IsNull() });
  /** Whether a device request signed with `secret` is accepted now. */
  const works = async (id: string, secret: string) => {
    const headers = signRequest({ deviceId: id, secret, method: 'GET', path: '/api/v1/device/me' });
    const result = await deviceAuth.authenticate({
      method: 'GET',
      target: '/api/v1/device/me',
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
      clientIp: clientIp(),
    });
    return result.ok;
  };

  describe('the per-owner quota of active devices', () => {
    it('refuses the device past the quota with device_limit_reached; a revoked device frees its place', async () => {
      const owner = await newOwner();
      const made = [];
      for (let i = 0; i < QUOTA; i++) made.push(await register(owner));

      const refused = await rejected(ApiError, register(owner));
      expect({ status: refused.getStatus(), code: refused.code }).toEqual({
        status: 409,
        code: ErrorCode.DeviceLimitReached,
      });
      expect(await activeCount(owner)).toBe(QUOTA);

      await devices.revoke(await row(made[0].id));
      await expect(register(owner)).resolves.toMatchObject({ status: 'active' });
      expect(await activeCount(owner)).toBe(QUOTA);
    });

    it('counts each owner on their own', async () => {
      const [full, other] = [await newOwner(), await newOwner()];
      for (let i = 0; i < QUOTA; i++) await register(full);
      await expect(register(other)).resolves.toMatchObject({ status: 'active' });
    });

    it('lets exactly one of two concurrent registrations at quota - 1 win', async () => {
      const owner = await newOwner();
      for (let i = 0; i < QUOTA - 1; i++) await register(owner);

      const results = await Promise.allSettled([register(owner), register(owner)]);

      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const reason = (lost[0] as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(ApiError);
      expect((reason as ApiError).code).toBe(ErrorCode.DeviceLimitReached);
      expect(await activeCount(owner)).toBe(QUOTA);
    });
  });

  describe('rename', () => {
    it('to the current name is a no-op: the device as it was, updatedAt unchanged, no event', async () => {
      const owner = await newOwner();
      const created = await register(owner, uniqueName('Same'));
      const before = await row(created.id);
      await sleep(5);

      const answered = await devices.update(before, { name: created.name });

      const { secret: _secret, ...shown } = created;
      expect(answered).toEqual(shown);
      expect(answered.updatedAt).toBe(created.updatedAt);
      expect((await row(created.id)).updatedAt).toEqual(before.updatedAt);
      expect(await eventTypes(created.id)).toEqual(['registered']);
    });

    it('to the same name in another case is a rename: updatedAt moves on, one renamed event', async () => {
      const owner = await newOwner();
      const created = await register(owner, uniqueName('case'));
      await sleep(5);

      const answered = await devices.update(await row(created.id), {
        name: created.name.toUpperCase(),
      });

      expect(answered.name).toBe(created.name.toUpperCase());
      expect(Date.parse(answered.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
      expect(await eventTypes(created.id)).toEqual(['renamed', 'registered']);
    });
  });

  describe('secret rotation', () => {
    it('keeps the previous secret working until the grace ends, and says when', async () => {
      const owner = await newOwner();
      const { id, secret: first } = await register(owner);
      const started = Date.now();

      const rotated = await devices.rotateSecret(await row(id), 3600);

      const expires = Date.parse(rotated.previousSecretExpiresAt!);
      expect(expires).toBeGreaterThanOrEqual(started + 3600_000 - 5_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 5_000);
      expect(rotated.secret).not.toBe(first);
      expect(await works(id, first)).toBe(true);
      expect(await works(id, rotated.secret)).toBe(true);
    });

    it('drops the previous secret once its grace has passed', async () => {
      const owner = await newOwner();
      const { id, secret: first } = await register(owner);
      const rotated = await devices.rotateSecret(await row(id), 1);
      expect(await works(id, first)).toBe(true);

      await sleep(Date.parse(rotated.previousSecretExpiresAt!) - Date.now() + 200);

      expect(await works(id, first)).toBe(false);
      expect(await works(id, rotated.secret)).toBe(true);
    });

    it('with grace 0 drops the previous secret at once', async () => {
      const owner = await newOwner();
      const { id, secret: first } = await register(owner);
      expect(await works(id, first)).toBe(true);

      const rotated = await devices.rotateSecret(await row(id), 0);

      expect(rotated.previousSecretExpiresAt).toBeNull();
      expect(await works(id, first)).toBe(false);
      expect(await works(id, rotated.secret)).toBe(true);
    });

    it('keeps only one previous secret: a second rotation drops the older one', async () => {
      const owner = await newOwner();
      const { id, secret: first } = await register(owner);
      const second = await devices.rotateSecret(await row(id), 3600);
      const third = await devices.rotateSecret(await row(id), 3600);

      expect(await works(id, first)).toBe(false);
      expect(await works(id, second.secret)).toBe(true);
      expect(await works(id, third.secret)).toBe(true);
      expect(await eventTypes(id)).toEqual(['secret_rotated', 'secret_rotated', 'registered']);
    });
  });
});
