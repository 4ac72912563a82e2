import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { allPages, createDevice, DEVICE_KEYS, getDevice, uniqueName } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { registerUser, TestUser } from './factories/users';

const DAY = 86_400_000;
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Five calendar years from now, as the service counts them. */
const fiveYears = () => {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + 5);
  return d.getTime() - Date.now();
};

type EventItem = { type: string; details: Record<string, unknown> };

describe('credential policy: owner side (e2e)', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await registerUser(t);
  });
  afterAll(() => t.close());

  const register = (body: Record<string, unknown>, user = owner) =>
    request(t.server).post('/api/v1/devices').set(user.auth).send(body);
  const patch = (id: string, body: unknown, user = owner) =>
    request(t.server)
      .patch(`/api/v1/devices/${id}`)
      .set(user.auth)
      .send(body as object);
  const action = (id: string, verb: 'disable' | 'enable' | 'revoke', user = owner) =>
    request(t.server).post(`/api/v1/devices/${id}/${verb}`).set(user.auth);
  const eventsOf = async (id: string): Promise<EventItem[]> =>
    (await allPages<EventItem>(t, owner, `/api/v1/devices/${id}/events`)).flatMap((p) => p.items);
  const secretRows = async (deviceId: string): Promise<number> => {
    const [{ n }] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM device_secrets WHERE device_id = $1`,
      [deviceId],
    );
    return n;
  };

  /**
   * Both routes that take the policy fields, each with a body valid but for
   * the field under test. For PATCH, a fresh device each time.
   */
  const ROUTES = ['POST /devices', 'PATCH /devices/{id}'] as const;
  const send = async (route: (typeof ROUTES)[number], fields: Record<string, unknown>) => {
    if (route === 'POST /devices') return register({ name: uniqueName(), ...fields });
    const device = await createDevice(t, owner);
    return patch(device.id, fields);
  };
  const accepted = async (route: (typeof ROUTES)[number], fields: Record<string, unknown>) => {
    const res = await send(route, fields);
    expect({ status: res.status, body: res.body }).toMatchObject({
      status: route === 'POST /devices' ? 201 : 200,
    });
    return res.body as Record<string, unknown>;
  };
  /** 400 validation_failed, with a message that names the field. */
  const refused = async (
    route: (typeof ROUTES)[number],
    fields: Record<string, unknown>,
    field: string,
  ) => {
    const res = await send(route, fields);
    expectError(res, 400, 'validation_failed');
    expect(JSON.stringify(res.body.message)).toContain(field);
  };

  describe('registering with a policy', () => {
    it('answers the four fields, normalised, and GET shows the same', async () => {
      const expiresAt = new Date(Date.now() + 30 * DAY);
      const res = await register({
        name: 'Policy EA',
        expiresAt: expiresAt.toISOString(),
        scopes: ['signals.read', 'orders:write', 'account_info'],
        allowedCidrs: ['203.0.113.77/24', '2001:DB8:0:0::1', '::ffff:198.51.100.0/120', '10.0.0.1'],
      }).expect(201);

      expect(Object.keys(res.body).sort()).toEqual([...DEVICE_KEYS, 'secret'].sort());
      expect(res.body).toMatchObject({
        status: 'active',
        expiresAt: expiresAt.toISOString(),
        disabledAt: null,
        scopes: ['account_info', 'orders:write', 'signals.read'],
        allowedCidrs: ['203.0.113.0/24', '2001:db8::1/128', '198.51.100.0/24', '10.0.0.1/32'],
      });
      const { secret: _secret, ...device } = res.body;
      expect(await getDevice(t, owner, res.body.id)).toEqual(device);
    });

    it('defaults to no expiry, no scopes and any address', async () => {
      const res = await register({ name: uniqueName() }).expect(201);
      expect(res.body).toMatchObject({
        status: 'active',
        expiresAt: null,
        disabledAt: null,
        scopes: [],
        allowedCidrs: [],
      });
    });

    it('takes an expiry with any time zone and answers it in UTC, to the millisecond', async () => {
      const utc = new Date(Date.now() + 2 * DAY);
      utc.setUTCHours(10, 30, 0, 0);
      const withOffset = utc.toISOString().replace(/T10:30:00\.000Z$/, 'T12:30:00.000000+02:00');
      const res = await register({ name: uniqueName(), expiresAt: withOffset }).expect(201);
      expect(res.body.expiresAt).toBe(utc.toISOString());
    });

    it('records the policy it started with in the registered event', async () => {
      const res = await register({
        name: 'With scopes',
        scopes: ['b', 'a'],
        allowedCidrs: ['2001:db8::/32'],
      }).expect(201);
      expect(await eventsOf(res.body.id)).toEqual([
        expect.objectContaining({
          type: 'registered',
          details: { name: 'With scopes', scopes: ['a', 'b'], allowedCidrs: ['2001:db8::/32'] },
        }),
      ]);
    });
  });

  describe.each(ROUTES)('%s validates the policy fields', (route) => {
    describe('expiresAt', () => {
      it('takes null, a near future time and one just inside 5 years', async () => {
        expect((await accepted(route, { expiresAt: null })).expiresAt).toBeNull();
        const soon = inMs(60_000);
        expect((await accepted(route, { expiresAt: soon })).expiresAt).toBe(soon);
        const late = inMs(fiveYears() - 60_000);
        expect((await accepted(route, { expiresAt: late })).expiresAt).toBe(late);
      });

      it.each([
        ['a minute ago', () => inMs(-60_000)],
        ['a year ago', () => inMs(-365 * DAY)],
        ['a minute past 5 years', () => inMs(fiveYears() + 60_000)],
        ['100 years ahead', () => inMs(100 * 365 * DAY)],
        ['a date without a time', () => inMs(DAY).slice(0, 10)],
        ['a time without a zone', () => inMs(DAY).slice(0, 19)],
        ['an impossible date', () => `${new Date().getUTCFullYear() + 1}-02-30T00:00:00Z`],
        ['hour 24', () => `${new Date().getUTCFullYear() + 1}-01-01T24:00:00Z`],
        ['words', () => 'tomorrow'],
        ['an empty string', () => ''],
        ['a number', () => Date.now() + DAY],
        ['an object', () => ({ at: inMs(DAY) })],
      ])('refuses %s', async (_, value) => {
        await refused(route, { expiresAt: value() }, 'expiresAt');
      });
    });

    describe('scopes', () => {
      const scopes = (n: number) => Array.from({ length: n }, (_, i) => `scope.${i}`);

      it('takes [], 32 distinct scopes and a 64-character scope, answering them sorted', async () => {
        expect((await accepted(route, { scopes: [] })).scopes).toEqual([]);
        const many = scopes(32);
        expect((await accepted(route, { scopes: [...many].reverse() })).scopes).toEqual(
          [...many].sort(),
        );
        const long = `a${'b'.repeat(63)}`;
        const edge = ['a', long, 'x0_.:-'];
        expect((await accepted(route, { scopes: edge })).scopes).toEqual([...edge].sort());
      });

      it.each([
        ['33 scopes', scopes(33)],
        ['a 65-character scope', [`a${'b'.repeat(64)}`]],
        ['a duplicate', ['orders:write', 'orders:write']],
        ['an upper-case letter', ['Orders:write']],
        ['a leading digit', ['1orders']],
        ['a leading separator', [':orders']],
        ['a space', ['orders write']],
        ['a slash', ['orders/write']],
        ['an empty scope', ['']],
        ['a non-ASCII letter', ['ordérs']],
        ['a number in the list', [7]],
        ['a string instead of a list', 'orders:write'],
        ['null', null],
      ])('refuses %s', async (_, value) => {
        await refused(route, { scopes: value }, 'scope');
      });
    });

    describe('allowedCidrs', () => {
      const networks = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`);

      it('takes [], 32 networks, IPv4 and IPv6, normalising each', async () => {
        expect((await accepted(route, { allowedCidrs: [] })).allowedCidrs).toEqual([]);
        expect((await accepted(route, { allowedCidrs: networks(32) })).allowedCidrs).toEqual(
          networks(32),
        );
        const res = await accepted(route, {
          allowedCidrs: [
            '2001:0db8:0000:0000:0000:0000:0000:0001',
            '2001:db8:abcd:12::5/48',
            'FE80::/10',
            '::1',
            '::ffff:192.0.2.9',
            '192.0.2.130/25',
            '0.0.0.0/0',
            '::/0',
          ],
        });
        expect(res.allowedCidrs).toEqual([
          '2001:db8::1/128',
          '2001:db8:abcd::/48',
          'fe80::/10',
          '::1/128',
          '192.0.2.9/32',
          '192.0.2.128/25',
          '0.0.0.0/0',
          '::/0',
        ]);
      });

      it.each([
        ['33 networks', networks(33)],
        ['a prefix past /32', ['10.0.0.0/33']],
        ['a prefix past /128', ['2001:db8::/129']],
        ['a negative prefix', ['10.0.0.0/-1']],
        ['an empty prefix', ['10.0.0.0/']],
        ['an octet past 255', ['10.0.0.256']],
        ['three octets', ['10.0.0']],
        ['a short IPv4 form', ['127.1']],
        ['a hexadecimal IPv4 form', ['0x7f.0.0.1']],
        ['a broken IPv6 address', ['2001:db8:::1']],
        ['an IPv6 zone', ['fe80::1%eth0']],
        ['a host name', ['example.com']],
        ['surrounding spaces', [' 10.0.0.0/8']],
        ['an empty entry', ['']],
        ['one network twice', ['10.0.0.0/8', '10.0.0.0/8']],
        ['one network twice once normalised', ['10.0.0.1', '10.0.0.1/32']],
        ['an IPv4 network and its mapped form', ['192.0.2.0/24', '::ffff:192.0.2.0/120']],
        ['a number in the list', [10]],
        ['a string instead of a list', '10.0.0.0/8'],
        ['null', null],
      ])('refuses %s', async (_, value) => {
        await refused(route, { allowedCidrs: value }, 'allowedCidrs');
      });
    });
  });

  it('names the entries it refuses, as written', async () => {
    const res = await register({
      name: uniqueName(),
      allowedCidrs: ['10.0.0.0/8', '10.0.0.300', 'fe80::/129'],
    });
    expectError(res, 400, 'validation_failed');
    expect(res.body.message).toEqual(
      expect.arrayContaining([expect.stringContaining('not: "10.0.0.300", "fe80::/129"')]),
    );
  });

  describe('PATCH /devices/{id}', () => {
    it('answers 400 for an empty body or no body, changing nothing', async () => {
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      expectError(await patch(device.id, {}), 400, 'validation_failed');
      expectError(
        await request(t.server).patch(`/api/v1/devices/${device.id}`).set(owner.auth),
        400,
        'validation_failed',
      );
      expect(await getDevice(t, owner, device.id)).toEqual(before);
    });

    it('changes only the fields given, bumps updatedAt and records before and after', async () => {
      const created = await register({
        name: uniqueName(),
        scopes: ['a'],
        allowedCidrs: ['10.0.0.0/8'],
      }).expect(201);
      const expiresAt = inMs(7 * DAY);
      await sleep(5);
      const res = await patch(created.body.id, { scopes: ['c', 'b'], expiresAt }).expect(200);

      expect(res.body).toMatchObject({
        name: created.body.name,
        scopes: ['b', 'c'],
        expiresAt,
        allowedCidrs: ['10.0.0.0/8'],
        status: 'active',
      });
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(created.body.updatedAt));
      expect(await getDevice(t, owner, created.body.id)).toEqual(res.body);
      const [changed] = await eventsOf(created.body.id);
      expect(changed).toMatchObject({
        type: 'policy_changed',
        details: {
          before: { expiresAt: null, scopes: ['a'] },
          after: { expiresAt, scopes: ['b', 'c'] },
        },
      });
    });

    it('removes the expiry with expiresAt: null', async () => {
      const expiresAt = inMs(DAY);
      const created = await register({ name: uniqueName(), expiresAt }).expect(201);
      const res = await patch(created.body.id, { expiresAt: null }).expect(200);
      expect(res.body.expiresAt).toBeNull();
      const [changed] = await eventsOf(created.body.id);
      expect(changed.details).toEqual({ before: { expiresAt }, after: { expiresAt: null } });
    });

    it('treats values equal to the current ones as no change: 200, no event, updatedAt kept', async () => {
      const created = await register({
        name: uniqueName(),
        expiresAt: inMs(DAY),
        scopes: ['a', 'b'],
        allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'],
      }).expect(201);
      const { secret: _secret, ...before } = created.body;
      for (const body of [
        { scopes: ['b', 'a'] },
        { allowedCidrs: ['10.1.2.3/8', '2001:DB8:0::/32'] },
        { expiresAt: before.expiresAt },
        { name: before.name, scopes: ['a', 'b'], allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] },
      ]) {
        expect((await patch(created.body.id, body).expect(200)).body).toEqual(before);
      }
      expect((await eventsOf(created.body.id)).map((e) => e.type)).toEqual(['registered']);
    });

    it('renames and changes the policy in one request: a renamed and a policy_changed event', async () => {
      const device = await createDevice(t, owner);
      const res = await patch(device.id, { name: 'Renamed', allowedCidrs: ['2001:db8::/32'] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'Renamed', allowedCidrs: ['2001:db8::/32'] });
      const [policy, renamed] = await eventsOf(device.id);
      expect(renamed).toMatchObject({
        type: 'renamed',
        details: { from: device.name, to: 'Renamed' },
      });
      expect(policy).toMatchObject({
        type: 'policy_changed',
        details: { before: { allowedCidrs: [] }, after: { allowedCidrs: ['2001:db8::/32'] } },
      });
    });

    it('answers 409 device_revoked for any change to a revoked device', async () => {
      const device = await createDevice(t, owner);
      await action(device.id, 'revoke').expect(204);
      const before = await getDevice(t, owner, device.id);
      for (const body of [
        { scopes: ['a'] },
        { expiresAt: null },
        { allowedCidrs: [] },
        { name: device.name },
      ]) {
        expectError(await patch(device.id, body), 409, 'device_revoked');
      }
      expect(await getDevice(t, owner, device.id)).toEqual(before);
    });

    it('refuses a body with one bad field as a whole', async () => {
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      expectError(
        await patch(device.id, { name: 'Fine', scopes: ['ok'], allowedCidrs: ['nope'] }),
        400,
        'validation_failed',
      );
      expect(await getDevice(t, owner, device.id)).toEqual(before);
    });

    it('answers 409 device_name_taken for a clash, changing no policy field either', async () => {
      const first = await createDevice(t, owner);
      const second = await createDevice(t, owner);
      const before = await getDevice(t, owner, second.id);
      expectError(
        await patch(second.id, { name: first.name.toUpperCase(), scopes: ['x'] }),
        409,
        'device_name_taken',
      );
      expect(await getDevice(t, owner, second.id)).toEqual(before);
    });
  });

  describe('POST /devices/{id}/disable and /enable', () => {
    it('disable answers 204, keeps the secrets and sets disabledAt; a second disable changes nothing', async () => {
      const device = await createDevice(t, owner);
      const created = await getDevice(t, owner, device.id);
      await sleep(5);

      const res = await action(device.id, 'disable').expect(204);
      expect(res.text).toBe('');
      const disabled = await getDevice(t, owner, device.id);
      expect(disabled).toMatchObject({ status: 'disabled', revokedAt: null });
      expect(disabled.disabledAt).toBe(disabled.updatedAt);
      expect(Date.parse(disabled.updatedAt as string)).toBeGreaterThan(
        Date.parse(created.updatedAt as string),
      );
      expect(await secretRows(device.id)).toBe(1);

      await sleep(5);
      await action(device.id, 'disable').expect(204);
      expect(await getDevice(t, owner, device.id)).toEqual(disabled);
      expect((await eventsOf(device.id)).map((e) => e.type)).toEqual(['disabled', 'registered']);
    });

    it('enable answers 204 and clears disabledAt; a second enable changes nothing', async () => {
      const device = await createDevice(t, owner);
      await action(device.id, 'disable').expect(204);
      await action(device.id, 'enable').expect(204);
      const enabled = await getDevice(t, owner, device.id);
      expect(enabled).toMatchObject({ status: 'active', disabledAt: null });

      await action(device.id, 'enable').expect(204);
      expect(await getDevice(t, owner, device.id)).toEqual(enabled);
      expect((await eventsOf(device.id)).map((e) => e.type)).toEqual([
        'enabled',
        'disabled',
        'registered',
      ]);
      expect(await secretRows(device.id)).toBe(1);
    });

    it('enabling a device that was never disabled answers 204 and writes no event', async () => {
      const device = await createDevice(t, owner);
      const before = await getDevice(t, owner, device.id);
      await action(device.id, 'enable').expect(204);
      expect(await getDevice(t, owner, device.id)).toEqual(before);
      expect((await eventsOf(device.id)).map((e) => e.type)).toEqual(['registered']);
    });

    it('concurrent disables: all 204, one disabledAt, one event', async () => {
      const device = await createDevice(t, owner);
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => action(device.id, 'disable')),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(8).fill(204));
      expect((await eventsOf(device.id)).map((e) => e.type)).toEqual(['disabled', 'registered']);
    });

    it.each(['disable', 'enable'] as const)(
      '%s answers 409 device_revoked on a revoked device',
      async (verb) => {
        const device = await createDevice(t, owner);
        await action(device.id, 'revoke').expect(204);
        const before = await getDevice(t, owner, device.id);
        expectError(await action(device.id, verb), 409, 'device_revoked');
        expect(await getDevice(t, owner, device.id)).toEqual(before);
      },
    );

    it.each(['disable', 'enable'] as const)(
      "%s answers 403 for another user's device and 404 for an unknown one, changing nothing",
      async (verb) => {
        const intruder = await registerUser(t);
        const device = await createDevice(t, owner);
        if (verb === 'enable') await action(device.id, 'disable').expect(204);
        const before = await getDevice(t, owner, device.id);
        const res = await action(device.id, verb, intruder);
        expectError(res, 403, 'forbidden');
        expect(res.text).not.toContain(device.name);
        expect(await getDevice(t, owner, device.id)).toEqual(before);
        expectError(await action(randomUUID(), verb), 404, 'device_not_found');
        expectError(await action('not-a-uuid', verb), 400, 'validation_failed');
      },
    );

    it('revoking a disabled device makes it revoked; disabledAt stays as a record', async () => {
      const device = await createDevice(t, owner);
      await action(device.id, 'disable').expect(204);
      const { disabledAt } = await getDevice(t, owner, device.id);
      await action(device.id, 'revoke').expect(204);
      expect(await getDevice(t, owner, device.id)).toMatchObject({
        status: 'revoked',
        disabledAt,
      });
    });

    it('GET /device/me of a device with a policy shows it', async () => {
      const created = await register({
        name: uniqueName(),
        scopes: ['orders:write'],
        allowedCidrs: ['2001:db8::/32', '0.0.0.0/0'],
        expiresAt: inMs(DAY),
      }).expect(201);
      const res = await signedRequest(t, created.body).expect(200);
      const { secret: _secret, ...device } = created.body;
      expect(res.body).toEqual({ ...device, ownerId: owner.id, updatedAt: expect.any(String) });
    });
  });

  describe('status and the list filter', () => {
    it('derives the four statuses and filters by each in the database, paging with the cursor', async () => {
      const user = await registerUser(t);
      const make = (body: Record<string, unknown> = {}) =>
        register({ name: uniqueName(), ...body }, user)
          .expect(201)
          .then((r) => r.body.id as string);
      const expiry = inMs(1_500);

      const active = [await make(), await make({ expiresAt: inMs(DAY) })];
      const disabled = [await make(), await make({ expiresAt: inMs(DAY) })];
      for (const id of disabled) await action(id, 'disable', user).expect(204);
      const expired = [await make({ expiresAt: expiry }), await make({ expiresAt: expiry })];
      // Expired wins over disabled.
      await action(expired[1], 'disable', user).expect(204);
      const revoked = [
        await make(),
        await make({ expiresAt: expiry }),
        await make({ expiresAt: expiry }),
      ];
      // Revoked wins over expired and disabled.
      await action(revoked[2], 'disable', user).expect(204);
      for (const id of revoked) await action(id, 'revoke', user).expect(204);

      const statusOf = async (id: string) => (await getDevice(t, user, id)).status;
      await sleep(Math.max(0, Date.parse(expiry) - Date.now()) + 50);

      const expected = { active, disabled, expired, revoked };
      for (const [status, ids] of Object.entries(expected)) {
        for (const id of ids) expect({ id, status: await statusOf(id) }).toEqual({ id, status });
        const pages = await allPages(t, user, '/api/v1/devices', { status, limit: 1 });
        const listed = pages.flatMap((p) => p.items) as { id: string; status: string }[];
        expect(listed.map((d) => d.id).sort()).toEqual([...ids].sort());
        expect(listed.every((d) => d.status === status)).toBe(true);
        expect(pages).toHaveLength(ids.length);
      }
      const all = (await allPages(t, user, '/api/v1/devices', { limit: 3 })).flatMap(
        (p) => p.items,
      );
      expect(all).toHaveLength(9);
    });

    it('an expired device becomes active again when its expiry moves into the future', async () => {
      const created = await register({ name: uniqueName(), expiresAt: inMs(300) }).expect(201);
      await sleep(400);
      expect((await getDevice(t, owner, created.body.id)).status).toBe('expired');
      const res = await patch(created.body.id, { expiresAt: inMs(DAY) }).expect(200);
      expect(res.body.status).toBe('active');
    });

    it('refuses an unknown status in the filter', async () => {
      for (const status of ['enabled', 'Disabled', 'expired,revoked']) {
        expectError(
          await request(t.server).get('/api/v1/devices').query({ status }).set(owner.auth),
          400,
          'validation_failed',
        );
      }
    });
  });

  it('documents the new routes and fields in the OpenAPI document', async () => {
    const doc = (await request(t.server).get('/docs-json').expect(200)).body;
    for (const verb of ['disable', 'enable']) {
      const op = doc.paths[`/api/v1/devices/{id}/${verb}`].post;
      expect(Object.keys(op.responses).sort()).toEqual(
        ['204', '400', '401', '403', '404', '409', '429', '503'].sort(),
      );
    }
    const schemas = doc.components.schemas;
    expect(schemas.DeviceDto.properties.status.enum).toEqual([
      'active',
      'disabled',
      'expired',
      'revoked',
    ]);
    for (const dto of ['CreateDeviceDto', 'UpdateDeviceDto']) {
      const props = schemas[dto].properties;
      expect(props.expiresAt).toMatchObject({ format: 'date-time', nullable: true });
      expect(props.scopes).toMatchObject({ type: 'array', maxItems: 32, uniqueItems: true });
      expect(props.scopes.items.pattern).toBe('^[a-z][a-z0-9_.:-]{0,63}$');
      expect(props.allowedCidrs).toMatchObject({ type: 'array', maxItems: 32 });
      for (const field of ['expiresAt', 'scopes', 'allowedCidrs']) {
        expect(props[field].example).toBeDefined();
      }
    }
    expect(schemas.UpdateDeviceDto.required ?? []).toEqual([]);
    expect(schemas.CreateDeviceDto.required).toEqual(['name']);
  });
});
