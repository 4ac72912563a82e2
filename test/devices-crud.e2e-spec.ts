import request from 'supertest';
import { createTestApp, TestApp } from './app';
import {
  createDevice,
  DEVICE_KEYS,
  getDevice,
  SECRET_PATTERN,
  uniqueName,
} from './factories/devices';
import { expectError } from './factories/errors';
import { ownerCalls, Device, ISO, UUID, tick } from './factories/owner-calls';
import { registerUser, TestUser } from './factories/users';

// Registering, reading, renaming and deleting devices, and the database's
// cascade from a user to their devices.
describe('devices: register, read, rename, delete (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const { post, rename, revoke, list, events, secretRows } = ownerCalls(() => t);

  describe('POST /devices', () => {
    let owner: TestUser;
    beforeAll(async () => {
      owner = await registerUser(t);
    });

    it('answers 201 with the device and its secret, Location and Cache-Control: no-store', async () => {
      const before = Date.now();
      const res = await post(owner, { name: 'MT5 Main' }).expect(201);

      expect(Object.keys(res.body).sort()).toEqual([...DEVICE_KEYS, 'secret'].sort());
      expect(res.body.id).toMatch(UUID);
      expect(res.body).toMatchObject({
        name: 'MT5 Main',
        status: 'active',
        lastSeenAt: null,
        revokedAt: null,
      });
      expect(res.body.createdAt).toMatch(ISO);
      expect(res.body.updatedAt).toBe(res.body.createdAt);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
      expect(res.body.secret).toMatch(SECRET_PATTERN);
      expect(Buffer.from(res.body.secret.slice(4), 'base64url')).toHaveLength(32);

      expect(res.headers.location).toBe(`/api/v1/devices/${res.body.id}`);
      expect(res.headers['cache-control']).toBe('no-store');

      const { secret: _secret, ...device } = res.body;
      const fetched = await request(t.server).get(res.headers.location).set(owner.auth).expect(200);
      expect(fetched.body).toEqual(device);
      expect(await secretRows(res.body.id)).toBe(1);
    });

    it('gives every device a different secret', async () => {
      const a = await createDevice(t, owner);
      const b = await createDevice(t, owner);
      expect(a.secret).not.toBe(b.secret);
    });

    it('never shows the secret again: not in get, list, rename, revoke, rotate, events or delete', async () => {
      const device = await createDevice(t, owner);
      const responses = [
        await request(t.server).get(`/api/v1/devices/${device.id}`).set(owner.auth).expect(200),
        await list(owner).expect(200),
        await list(owner, { status: 'active', limit: 100 }).expect(200),
        await rename(owner, device.id, { name: uniqueName('renamed') }).expect(200),
        await events(owner, device.id).expect(200),
      ];
      const rotated = await request(t.server)
        .post(`/api/v1/devices/${device.id}/rotate-secret`)
        .set(owner.auth)
        .send({})
        .expect(200);
      expect(rotated.body.secret).toMatch(SECRET_PATTERN);
      expect(rotated.body.secret).not.toBe(device.secret);
      responses.push(
        await revoke(owner, device.id).expect(204),
        await request(t.server).get(`/api/v1/devices/${device.id}`).set(owner.auth).expect(200),
        await list(owner, { status: 'revoked' }).expect(200),
        await events(owner, device.id).expect(200),
        await request(t.server).delete(`/api/v1/devices/${device.id}`).set(owner.auth).expect(204),
      );
      for (const res of responses) {
        const seen = res.text + JSON.stringify(res.headers);
        for (const secret of [device.secret, rotated.body.secret as string]) {
          expect(seen).not.toContain(secret);
          expect(seen).not.toContain(secret.slice(4));
        }
      }
    });

    it('trims the name', async () => {
      const res = await post(owner, { name: '  \t Office PC \n ' }).expect(201);
      expect(res.body.name).toBe('Office PC');
    });

    it('accepts names of 1 and 64 characters', async () => {
      await post(owner, { name: 'x' }).expect(201);
      const long = uniqueName('n').padEnd(64, 'é');
      const res = await post(owner, { name: long }).expect(201);
      expect(res.body.name).toBe(long);
    });

    it('counts characters as code points: 64 emoji are fine, 65 are not', async () => {
      const res = await post(owner, { name: '\u{1F642}'.repeat(64) }).expect(201);
      expect([...res.body.name]).toHaveLength(64);
      expectError(await post(owner, { name: '\u{1F643}'.repeat(65) }), 400, 'validation_failed');
    });

    it('counts variation selectors as characters: 66 code points are a 400, not a 500', async () => {
      await post(owner, { name: 'v\uFE0F'.repeat(32) }).expect(201);
      expectError(await post(owner, { name: 'w\uFE0F'.repeat(33) }), 400, 'validation_failed');
    });

    it.each([
      ['an empty name', { name: '' }],
      ['a blank name', { name: '   ' }],
      ['a 65-character name', { name: 'n'.repeat(65) }],
      ['a name that is 65 characters after trimming', { name: ` ${'n'.repeat(65)} ` }],
      ['a NUL character', { name: 'bad\u0000name' }],
      ['a newline inside', { name: 'bad\nname' }],
      ['a tab inside', { name: 'bad\tname' }],
      ['an escape character', { name: 'bad\u001b[31mname' }],
      ['a DEL character', { name: 'bad\u007fname' }],
      ['a C1 control character', { name: 'bad\u0085name' }],
      ['a numeric name', { name: 42 }],
      ['a null name', { name: null }],
      ['an array name', { name: ['a'] }],
      ['a missing name', {}],
      ['an unknown field', { name: 'fine', secret: 'dvs_mine' }],
    ])('answers 400 validation_failed for %s', async (_, body) => {
      const before = await list(owner, { limit: 100 }).expect(200);
      expectError(await post(owner, body), 400, 'validation_failed');
      const after = await list(owner, { limit: 100 }).expect(200);
      expect(after.body.items).toHaveLength(before.body.items.length);
    });

    it('answers 401 unauthorized without a token', async () => {
      expectError(
        await request(t.server).post('/api/v1/devices').send({ name: 'x' }),
        401,
        'unauthorized',
      );
    });

    it('answers 409 device_name_taken for a name active on another device, ignoring case', async () => {
      const name = uniqueName('Laptop');
      await post(owner, { name }).expect(201);
      for (const clash of [name, name.toUpperCase(), name.toLowerCase(), `  ${name} `]) {
        expectError(await post(owner, { name: clash }), 409, 'device_name_taken');
      }
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND lower(name) = lower($2)`,
        [owner.id, name],
      );
      expect(n).toBe(1);
    });

    it('lets another user use the same name', async () => {
      const name = uniqueName('Shared');
      await post(owner, { name }).expect(201);
      await post(await registerUser(t), { name }).expect(201);
    });

    it('lets the name of a revoked device be reused', async () => {
      const first = await createDevice(t, owner, uniqueName('Reuse'));
      await revoke(owner, first.id).expect(204);
      const res = await post(owner, { name: first.name.toUpperCase() }).expect(201);
      expect(res.body.id).not.toBe(first.id);
      expect(res.body.status).toBe('active');
    });
  });

  describe('GET /devices/{id}', () => {
    it('answers 200 with the device representation', async () => {
      const owner = await registerUser(t);
      const device = await createDevice(t, owner, 'Get me');
      const res = await request(t.server)
        .get(`/api/v1/devices/${device.id}`)
        .set(owner.auth)
        .expect(200);
      expect(Object.keys(res.body).sort()).toEqual(DEVICE_KEYS);
      expect(res.body).toMatchObject({
        id: device.id,
        name: 'Get me',
        status: 'active',
        lastSeenAt: null,
        revokedAt: null,
      });
    });
  });

  describe('PATCH /devices/{id}', () => {
    let owner: TestUser;
    beforeAll(async () => {
      owner = await registerUser(t);
    });

    it('renames, trims the name and bumps updatedAt (createdAt stays)', async () => {
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      await tick();
      const res = await rename(owner, device.id, { name: '  Office laptop  ' }).expect(200);

      expect(Object.keys(res.body).sort()).toEqual(DEVICE_KEYS);
      expect(res.body).toMatchObject({ id: device.id, name: 'Office laptop', status: 'active' });
      expect(res.body.createdAt).toBe(before.createdAt);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(String(before.updatedAt)));
      expect(await getDevice(t, owner, device.id)).toEqual(res.body);
    });

    it('renaming to the current name is a 200 no-op: updatedAt unchanged, no event', async () => {
      const device = await createDevice(t, owner, uniqueName('Same'));
      const before = await getDevice(t, owner, device.id);
      await tick();
      const res = await rename(owner, device.id, { name: ` ${device.name} ` }).expect(200);
      expect(res.body).toEqual(before);
      const trail = await events(owner, device.id).expect(200);
      expect(trail.body.items.map((e: { type: string }) => e.type)).toEqual(['registered']);
    });

    it('lets a device change the case of its own name', async () => {
      const device = await createDevice(t, owner, uniqueName('case'));
      const res = await rename(owner, device.id, { name: device.name.toUpperCase() }).expect(200);
      expect(res.body.name).toBe(device.name.toUpperCase());
    });

    it('answers 409 device_name_taken for the name of another active device, ignoring case', async () => {
      const a = await createDevice(t, owner, uniqueName('Alpha'));
      const b = await createDevice(t, owner, uniqueName('Beta'));
      expectError(
        await rename(owner, b.id, { name: a.name.toUpperCase() }),
        409,
        'device_name_taken',
      );
      expect((await getDevice(t, owner, b.id)).name).toBe(b.name);
    });

    it('allows the name of a revoked device', async () => {
      const a = await createDevice(t, owner, uniqueName('Gone'));
      const b = await createDevice(t, owner);
      await revoke(owner, a.id).expect(204);
      const res = await rename(owner, b.id, { name: a.name }).expect(200);
      expect(res.body.name).toBe(a.name);
    });

    it('answers 409 device_revoked for a revoked device', async () => {
      const device = await createDevice(t, owner);
      await revoke(owner, device.id).expect(204);
      const before = await getDevice(t, owner, device.id);
      expectError(await rename(owner, device.id, { name: 'new name' }), 409, 'device_revoked');
      expectError(await rename(owner, device.id, { name: device.name }), 409, 'device_revoked');
      expect(await getDevice(t, owner, device.id)).toEqual(before);
    });

    it.each([
      ['an empty name', { name: ' ' }],
      ['a 65-character name', { name: 'n'.repeat(65) }],
      ['a control character', { name: 'a\u0007b' }],
      ['a numeric name', { name: 7 }],
      ['a null name', { name: null }],
      ['an empty body', {}],
      ['an unknown field', { name: 'ok', status: 'revoked' }],
    ])('answers 400 validation_failed for %s', async (_, body) => {
      const device = await createDevice(t, owner);
      expectError(await rename(owner, device.id, body), 400, 'validation_failed');
      expect(await getDevice(t, owner, device.id)).toMatchObject({
        name: device.name,
        status: 'active',
      });
    });
  });

  describe('DELETE /devices/{id}', () => {
    it('answers 204, after which the device is 404 and its rows are gone', async () => {
      const owner = await registerUser(t);
      const device = await createDevice(t, owner);
      const kept = await createDevice(t, owner);
      await rename(owner, device.id, { name: uniqueName('before-delete') }).expect(200);

      const res = await request(t.server)
        .delete(`/api/v1/devices/${device.id}`)
        .set(owner.auth)
        .expect(204);
      expect(res.text).toBe('');

      expectError(
        await request(t.server).get(`/api/v1/devices/${device.id}`).set(owner.auth),
        404,
        'device_not_found',
      );
      expectError(
        await request(t.server).delete(`/api/v1/devices/${device.id}`).set(owner.auth),
        404,
        'device_not_found',
      );
      const list = await request(t.server).get('/api/v1/devices').set(owner.auth).expect(200);
      expect(list.body.items.map((d: Device) => d.id)).toEqual([kept.id]);
      for (const table of ['devices', 'device_secrets', 'device_events']) {
        const column = table === 'devices' ? 'id' : 'device_id';
        const rows = await t.dataSource.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [
          device.id,
        ]);
        expect(rows).toHaveLength(0);
      }
      expect(await secretRows(kept.id)).toBe(1);
    });
  });

  describe('database cascade', () => {
    it("DELETE FROM users removes the user's devices, secrets and events", async () => {
      const user = await registerUser(t);
      const bystander = await registerUser(t);
      const devices = [await createDevice(t, user), await createDevice(t, user)];
      await revoke(user, devices[1].id).expect(204);
      const kept = await createDevice(t, bystander);
      const ids = devices.map((d) => d.id);
      const count = async (sql: string, param: unknown) =>
        ((await t.dataSource.query(sql, [param])) as { n: number }[])[0].n;

      expect(
        await count(
          `SELECT count(*)::int AS n FROM device_events WHERE device_id = ANY($1::uuid[])`,
          ids,
        ),
      ).toBe(3);

      await t.dataSource.query(`DELETE FROM users WHERE id = $1`, [user.id]);

      expect(
        await count(`SELECT count(*)::int AS n FROM devices WHERE user_id = $1`, user.id),
      ).toBe(0);
      for (const table of ['devices', 'device_secrets', 'device_events']) {
        const column = table === 'devices' ? 'id' : 'device_id';
        expect(
          await count(
            `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1::uuid[])`,
            ids,
          ),
        ).toBe(0);
      }
      expect(
        await count(`SELECT count(*)::int AS n FROM device_secrets WHERE device_id = $1`, kept.id),
      ).toBe(1);
      expectError(
        await request(t.server).get('/api/v1/devices').set(user.auth),
        401,
        'unauthorized',
      );
    });
  });
});
