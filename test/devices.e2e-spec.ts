import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import {
  allPages,
  createDevice,
  DEVICE_KEYS,
  getDevice,
  SECRET_PATTERN,
  TestDevice,
  uniqueName,
} from './factories/devices';
import { expectError } from './factories/errors';
import { registerUser, TestUser } from './factories/users';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EVENT_KEYS = ['at', 'details', 'id', 'type'];
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

type Device = Record<string, unknown> & { id: string; name: string };

/** The owner routes that address one device, with a valid body where one is needed. */
const DEVICE_ROUTES: [string, (id: string) => string, object | undefined][] = [
  ['get', (id) => `/api/v1/devices/${id}`, undefined],
  ['patch', (id) => `/api/v1/devices/${id}`, { name: 'hijacked' }],
  ['post', (id) => `/api/v1/devices/${id}/revoke`, undefined],
  ['post', (id) => `/api/v1/devices/${id}/disable`, undefined],
  ['post', (id) => `/api/v1/devices/${id}/enable`, undefined],
  ['post', (id) => `/api/v1/devices/${id}/rotate-secret`, { graceSeconds: 60 }],
  ['delete', (id) => `/api/v1/devices/${id}`, undefined],
  ['get', (id) => `/api/v1/devices/${id}/events`, undefined],
];
const routeName = ([method, path]: (typeof DEVICE_ROUTES)[number]) =>
  `${method.toUpperCase()} ${path('{id}')}`;

describe('devices (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const call = (
    [method, path, body]: (typeof DEVICE_ROUTES)[number],
    id: string,
    user?: TestUser,
  ) => {
    const req = request(t.server)[method as 'get'](path(id));
    if (user) req.set(user.auth);
    return body ? req.send(body) : req;
  };
  const post = (user: TestUser, body: unknown) =>
    request(t.server)
      .post('/api/v1/devices')
      .set(user.auth)
      .send(body as object);
  const rename = (user: TestUser, id: string, body: unknown) =>
    request(t.server)
      .patch(`/api/v1/devices/${id}`)
      .set(user.auth)
      .send(body as object);
  const revoke = (user: TestUser, id: string) =>
    request(t.server).post(`/api/v1/devices/${id}/revoke`).set(user.auth);
  const list = (user: TestUser, query: Record<string, string | number> = {}) =>
    request(t.server).get('/api/v1/devices').query(query).set(user.auth);
  const events = (user: TestUser, id: string, query: Record<string, string | number> = {}) =>
    request(t.server).get(`/api/v1/devices/${id}/events`).query(query).set(user.auth);
  const secretRows = async (deviceId: string) => {
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM device_secrets WHERE device_id = $1`,
      [deviceId],
    );
    return n as number;
  };

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

  describe('routes of one device', () => {
    let owner: TestUser;
    let intruder: TestUser;
    beforeAll(async () => {
      owner = await registerUser(t);
      intruder = await registerUser(t);
    });

    it.each(DEVICE_ROUTES.map((r) => [routeName(r), r] as const))(
      '%s answers 400 validation_failed for an id that is not a UUID',
      async (_, route) => {
        for (const id of ['not-a-uuid', '123', `${randomUUID()}x`]) {
          expectError(await call(route, id, owner), 400, 'validation_failed');
        }
      },
    );

    it.each(DEVICE_ROUTES.map((r) => [routeName(r), r] as const))(
      '%s answers 404 device_not_found for an unknown UUID',
      async (_, route) => {
        expectError(await call(route, randomUUID(), owner), 404, 'device_not_found');
      },
    );

    it.each(DEVICE_ROUTES.map((r) => [routeName(r), r] as const))(
      '%s answers 401 unauthorized without a token',
      async (_, route) => {
        const device = await createDevice(t, owner);
        expectError(await call(route, device.id), 401, 'unauthorized');
        expect(await getDevice(t, owner, device.id)).toMatchObject({
          name: device.name,
          status: 'active',
        });
      },
    );

    it.each(DEVICE_ROUTES.map((r) => [routeName(r), r] as const))(
      "%s answers 403 forbidden for another user's device, revealing and changing nothing",
      async (_, route) => {
        const device = await createDevice(t, owner);
        const before = await getDevice(t, owner, device.id);
        const eventsBefore = (await events(owner, device.id).expect(200)).body;

        const res = await call(route, device.id, intruder);
        expectError(res, 403, 'forbidden');
        for (const leak of [device.id, device.name, device.secret, owner.id, owner.email]) {
          expect(res.text).not.toContain(leak);
        }

        expect(await getDevice(t, owner, device.id)).toEqual(before);
        expect((await events(owner, device.id).expect(200)).body).toEqual(eventsBefore);
        expect(await secretRows(device.id)).toBe(1);
      },
    );
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

  describe('POST /devices/{id}/revoke', () => {
    it('answers 204, marks the device revoked, bumps updatedAt and destroys its secrets', async () => {
      const owner = await registerUser(t);
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      expect(await secretRows(device.id)).toBe(1);
      await tick();

      const res = await revoke(owner, device.id).expect(204);
      expect(res.text).toBe('');

      const after = await getDevice(t, owner, device.id);
      expect(after.status).toBe('revoked');
      expect(after.revokedAt).toMatch(ISO);
      expect(Date.parse(String(after.updatedAt))).toBeGreaterThan(
        Date.parse(String(before.updatedAt)),
      );
      expect(after.createdAt).toBe(before.createdAt);
      expect(await secretRows(device.id)).toBe(0);
    });

    it('is idempotent: a second revoke is 204 and keeps the first revokedAt', async () => {
      const owner = await registerUser(t);
      const device = await createDevice(t, owner);
      await revoke(owner, device.id).expect(204);
      const first = await getDevice(t, owner, device.id);
      await tick();

      await revoke(owner, device.id).expect(204);
      const second = await getDevice(t, owner, device.id);
      expect(second).toEqual(first);
      const trail = await events(owner, device.id).expect(200);
      expect(trail.body.items.map((e: { type: string }) => e.type)).toEqual([
        'revoked',
        'registered',
      ]);
    });

    it('answers 409 device_revoked to rotating the secret of a revoked device', async () => {
      const owner = await registerUser(t);
      const device = await createDevice(t, owner);
      await revoke(owner, device.id).expect(204);
      const res = await request(t.server)
        .post(`/api/v1/devices/${device.id}/rotate-secret`)
        .set(owner.auth)
        .send({});
      expectError(res, 409, 'device_revoked');
      expect(await secretRows(device.id)).toBe(0);
    });
  });

  describe('POST /devices/{id}/rotate-secret', () => {
    let owner: TestUser;
    beforeAll(async () => {
      owner = await registerUser(t);
    });
    const rotate = (id: string, body?: object) => {
      const req = request(t.server).post(`/api/v1/devices/${id}/rotate-secret`).set(owner.auth);
      return body ? req.send(body) : req;
    };

    it('answers 200 with a new secret, no-store, and drops the old one without grace', async () => {
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      await tick();
      const res = await rotate(device.id).expect(200);

      expect(Object.keys(res.body).sort()).toEqual(
        [...DEVICE_KEYS, 'previousSecretExpiresAt', 'secret'].sort(),
      );
      expect(res.body.secret).toMatch(SECRET_PATTERN);
      expect(res.body.secret).not.toBe(device.secret);
      expect(res.body.previousSecretExpiresAt).toBeNull();
      expect(res.headers['cache-control']).toBe('no-store');
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(String(before.updatedAt)));
      expect(await secretRows(device.id)).toBe(1);
    });

    it('keeps one previous secret for graceSeconds, and only one', async () => {
      const device = await createDevice(t, owner);
      const started = Date.now();
      const res = await rotate(device.id, { graceSeconds: 3600 }).expect(200);
      const expires = Date.parse(res.body.previousSecretExpiresAt);
      expect(expires).toBeGreaterThanOrEqual(started + 3600_000 - 5_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 5_000);
      expect(await secretRows(device.id)).toBe(2);

      await rotate(device.id, { graceSeconds: 60 }).expect(200);
      expect(await secretRows(device.id)).toBe(2);
      await rotate(device.id, { graceSeconds: 0 }).expect(200);
      expect(await secretRows(device.id)).toBe(1);
    });

    it.each([
      ['graceSeconds -1', { graceSeconds: -1 }],
      ['graceSeconds 604801', { graceSeconds: 604_801 }],
      ['graceSeconds 1.5', { graceSeconds: 1.5 }],
      ['graceSeconds as a string', { graceSeconds: '60' }],
      ['an unknown field', { grace: 60 }],
    ])('answers 400 validation_failed for %s', async (_, body) => {
      const device = await createDevice(t, owner);
      expectError(await rotate(device.id, body), 400, 'validation_failed');
      expect(await secretRows(device.id)).toBe(1);
    });

    it('accepts graceSeconds 604800', async () => {
      const device = await createDevice(t, owner);
      const res = await rotate(device.id, { graceSeconds: 604_800 }).expect(200);
      expect(res.body.previousSecretExpiresAt).toMatch(ISO);
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
