import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { allPages, createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { ownerCalls, EVENT_KEYS, ISO, UUID } from './factories/owner-calls';
import { registerUser, TestUser } from './factories/users';

// GET /devices/{id}/events: the audit trail of one device, newest first, paged.
describe('devices: the audit trail (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const { rename, revoke, events } = ownerCalls(() => t);

  describe('GET /devices/{id}/events', () => {
    let owner: TestUser;
    let device: TestDevice;
    beforeAll(async () => {
      owner = await registerUser(t);
      device = await createDevice(t, owner, 'First');
      await rename(owner, device.id, { name: 'Second' }).expect(200);
      await rename(owner, device.id, { name: 'Second' }).expect(200); // no-op: no event
      await request(t.server)
        .post(`/api/v1/devices/${device.id}/rotate-secret`)
        .set(owner.auth)
        .send({ graceSeconds: 30 })
        .expect(200);
      await rename(owner, device.id, { name: 'Third' }).expect(200);
      await revoke(owner, device.id).expect(204);
      await revoke(owner, device.id).expect(204); // idempotent: no event
    });

    it('lists the audit trail newest first', async () => {
      const res = await events(owner, device.id).expect(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
      expect(res.body.nextCursor).toBeNull();
      const items = res.body.items as Record<string, unknown>[];
      expect(items.map((e) => e.type)).toEqual([
        'revoked',
        'renamed',
        'secret_rotated',
        'renamed',
        'registered',
      ]);
      expect(items[1].details).toEqual({ from: 'Second', to: 'Third' });
      expect(items[3].details).toEqual({ from: 'First', to: 'Second' });
      for (const e of items) {
        expect(Object.keys(e).sort()).toEqual(EVENT_KEYS);
        expect(e.id).toMatch(UUID);
        expect(e.at).toMatch(ISO);
        expect(typeof e.details).toBe('object');
        expect(e.details).not.toBeNull();
      }
      expect(new Set(items.map((e) => e.id)).size).toBe(items.length);
      const times = items.map((e) => Date.parse(String(e.at)));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(JSON.stringify(items)).not.toContain(device.secret);
    });

    it('pages the trail with limit and cursor', async () => {
      const all = (await events(owner, device.id).expect(200)).body.items as { id: string }[];
      const pages = await allPages<{ id: string }>(
        t,
        owner,
        `/api/v1/devices/${device.id}/events`,
        {
          limit: 2,
        },
      );
      expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
      expect(pages[2].nextCursor).toBeNull();
      expect(pages.flatMap((p) => p.items)).toEqual(all);
    });

    it('orders by sequence number, also where the numbers gain a digit', async () => {
      // 9999998, 9999999, 10000000, …: compared as text the order would break.
      await t.dataSource.query(`ALTER TABLE device_events ALTER COLUMN seq RESTART WITH 9999998`);
      const fresh = await createDevice(t, owner, 'd-0');
      for (let i = 1; i <= 4; i++) await rename(owner, fresh.id, { name: `d-${i}` }).expect(200);
      const [{ min }] = await t.dataSource.query(
        `SELECT min(seq)::text AS min FROM device_events WHERE device_id = $1`,
        [fresh.id],
      );
      expect(min).toBe('9999998');

      const expected = ['d-4', 'd-3', 'd-2', 'd-1'];
      const res = await events(owner, fresh.id).expect(200);
      expect(res.body.items.map((e: { details: { to?: string } }) => e.details.to)).toEqual([
        ...expected,
        undefined,
      ]);
      const pages = await allPages<{ type: string; details: { to?: string } }>(
        t,
        owner,
        `/api/v1/devices/${fresh.id}/events`,
        { limit: 2 },
      );
      expect(pages.flatMap((p) => p.items)).toEqual(res.body.items);
    });

    it("does not mix in another device's events", async () => {
      const fresh = await createDevice(t, owner);
      const res = await events(owner, fresh.id).expect(200);
      expect(res.body.items).toHaveLength(1);
      expect(res.body.items[0]).toMatchObject({ type: 'registered' });
      const theirs = (await events(owner, device.id).expect(200)).body.items as { id: string }[];
      expect(theirs.map((e) => e.id)).not.toContain(res.body.items[0].id);
    });

    it.each([
      ['limit=0', { limit: '0' }],
      ['limit=101', { limit: '101' }],
      ['limit=x', { limit: 'x' }],
      ['a garbage cursor', { cursor: '%%%' }],
      [
        'a device-list cursor',
        { cursor: Buffer.from('["2026-01-01T00:00:00.000Z","x"]').toString('base64url') },
      ],
      ['a non-numeric cursor', { cursor: Buffer.from('["abc"]').toString('base64url') }],
      ['an unknown parameter', { type: 'renamed' }],
    ])('answers 400 validation_failed for %s', async (_, query) => {
      expectError(await events(owner, device.id, query), 400, 'validation_failed');
    });
  });
});
