import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { allPages, createDevice, DEVICE_KEYS, getDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { ownerCalls, Device } from './factories/owner-calls';
import { registerUser, TestUser } from './factories/users';

// GET /devices: newest first, paged by cursor, filtered by status, only the
// caller's devices.
describe('devices: the list and its pages (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const { revoke, list } = ownerCalls(() => t);

  describe('GET /devices', () => {
    let owner: TestUser;
    let other: TestUser;
    let created: TestDevice[];

    beforeAll(async () => {
      owner = await registerUser(t);
      other = await registerUser(t);
      created = [];
      for (let i = 0; i < 7; i++) created.push(await createDevice(t, owner, `list-${i}`));
      await createDevice(t, other, 'list-0');
    });

    const byNewest = (a: Device, b: Device) =>
      String(b.createdAt).localeCompare(String(a.createdAt)) || b.id.localeCompare(a.id);

    it('pages 7 devices by 3: every device exactly once, newest first, nextCursor null at the end', async () => {
      const pages = await allPages<Device>(t, owner, '/api/v1/devices', { limit: 3 });
      expect(pages.map((p) => p.items.length)).toEqual([3, 3, 1]);
      expect(pages[0].nextCursor).toEqual(expect.any(String));
      expect(pages[1].nextCursor).toEqual(expect.any(String));
      expect(pages[2].nextCursor).toBeNull();

      const items = pages.flatMap((p) => p.items);
      expect(items.map((d) => d.id).sort()).toEqual(created.map((d) => d.id).sort());
      expect(items).toEqual([...items].sort(byNewest));
      // Created one after the other, so newest first is the reverse order of creation.
      expect(items.map((d) => d.name)).toEqual(created.map((d) => d.name).reverse());
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(DEVICE_KEYS);
        expect(item).toEqual(await getDevice(t, owner, item.id));
      }
    });

    it('defaults to 50 a page and answers {items, nextCursor}', async () => {
      const res = await list(owner).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
      expect(res.body.items).toHaveLength(7);
      expect(res.body.nextCursor).toBeNull();
    });

    it('pages devices created in the same millisecond by id, without losing or repeating one', async () => {
      const user = await registerUser(t);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createDevice(t, user)).id);
      await t.dataSource.query(
        `UPDATE devices SET created_at = '2026-01-01T00:00:00.000Z' WHERE user_id = $1`,
        [user.id],
      );
      const pages = await allPages<Device>(t, user, '/api/v1/devices', { limit: 2 });
      expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
      expect(pages.flatMap((p) => p.items.map((d) => d.id))).toEqual([...ids].sort().reverse());
    });

    it('filters by status, also across pages', async () => {
      const user = await registerUser(t);
      const devices: TestDevice[] = [];
      for (let i = 0; i < 5; i++) devices.push(await createDevice(t, user));
      for (const d of [devices[0], devices[2], devices[3]]) await revoke(user, d.id).expect(204);

      const revoked = await allPages<Device>(t, user, '/api/v1/devices', {
        status: 'revoked',
        limit: 2,
      });
      expect(revoked.map((p) => p.items.length)).toEqual([2, 1]);
      expect(revoked.flatMap((p) => p.items.map((d) => d.id))).toEqual(
        [devices[3], devices[2], devices[0]].map((d) => d.id),
      );
      for (const d of revoked.flatMap((p) => p.items)) expect(d.status).toBe('revoked');

      const active = await list(user, { status: 'active' }).expect(200);
      expect(active.body.items.map((d: Device) => d.id)).toEqual(
        [devices[4], devices[1]].map((d) => d.id),
      );
      for (const d of active.body.items) expect(d.status).toBe('active');
    });

    it("shows only the caller's devices, even with another user's cursor", async () => {
      const mine = await list(other).expect(200);
      expect(mine.body.items).toHaveLength(1);
      expect(mine.body.items[0].name).toBe('list-0');
      expect(created.map((d) => d.id)).not.toContain(mine.body.items[0].id);

      const ownerPage = await list(owner, { limit: 1 }).expect(200);
      const withForeignCursor = await list(other, { cursor: ownerPage.body.nextCursor }).expect(
        200,
      );
      for (const d of withForeignCursor.body.items) {
        expect(created.map((c) => c.id)).not.toContain(d.id);
      }

      const stranger = await registerUser(t);
      const empty = await list(stranger).expect(200);
      expect(empty.body).toEqual({ items: [], nextCursor: null });
    });

    it('accepts limit 1 and 100', async () => {
      const one = await list(owner, { limit: 1 }).expect(200);
      expect(one.body.items).toHaveLength(1);
      expect(one.body.nextCursor).toEqual(expect.any(String));
      const hundred = await list(owner, { limit: 100 }).expect(200);
      expect(hundred.body.items).toHaveLength(7);
    });

    it.each([
      ['limit=0', { limit: '0' }],
      ['limit=101', { limit: '101' }],
      ['limit=-1', { limit: '-1' }],
      ['limit=1.5', { limit: '1.5' }],
      ['limit=abc', { limit: 'abc' }],
      ['limit=', { limit: '' }],
      ['cursor=garbage', { cursor: '!!not-a-cursor!!' }],
      ['a cursor of a non-array', { cursor: Buffer.from('{"a":1}').toString('base64url') }],
      [
        'a cursor with a bad date',
        { cursor: Buffer.from(`["yesterday","${randomUUID()}"]`).toString('base64url') },
      ],
      [
        'a cursor with a bad id',
        { cursor: Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString('base64url') },
      ],
      ['a 600-character cursor', { cursor: 'A'.repeat(600) }],
      ...[
        '1',
        'March 7',
        '2026-02-30T00:00:00.000Z',
        '+275760-09-13T00:00:00.000Z',
        '0000-01-01T00:00:00.000Z',
        '2026-13-01T00:00:00.000Z',
      ].map(
        (time) =>
          [
            `a cursor with the time "${time}"`,
            { cursor: Buffer.from(JSON.stringify([time, randomUUID()])).toString('base64url') },
          ] as [string, Record<string, string>],
      ),
      ['status=deleted', { status: 'deleted' }],
      ['status=ACTIVE', { status: 'ACTIVE' }],
      ['an unknown parameter', { sort: 'name' }],
    ])('answers 400 validation_failed for %s', async (_, query) => {
      expectError(await list(owner, query), 400, 'validation_failed');
    });

    it('answers 401 unauthorized without a token', async () => {
      expectError(await request(t.server).get('/api/v1/devices'), 401, 'unauthorized');
    });
  });
});
