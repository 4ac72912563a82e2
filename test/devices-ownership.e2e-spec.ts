import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, getDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { ownerCalls } from './factories/owner-calls';
import { registerUser, TestUser } from './factories/users';
import { exampleBody, fill, Op, operations, isOneDeviceRoute } from './support/openapi-document';

const ROUTES = operations.filter(isOneDeviceRoute);
const routeName = (o: Op) => `${o.method.toUpperCase()} ${o.path}`;

// Every owner route of one device, taken from openapi.json: openapi.e2e-spec.ts
// proves the document lists every route the app serves, so a new route is
// covered here without anyone listing it. A bad id, an unknown device, no
// token, another user's device: the last changes and reveals nothing.
describe('devices: the routes of one device (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const { events, secretRows } = ownerCalls(() => t);

  describe('routes of one device', () => {
    let owner: TestUser;
    let intruder: TestUser;
    beforeAll(async () => {
      owner = await registerUser(t);
      intruder = await registerUser(t);
    });

    /** The route called with this id, with the document's example body where it takes one. */
    const call = (route: Op, id: string, user?: TestUser) => {
      const req = request(t.server)[route.method as 'get'](fill(route, id));
      if (user) req.set(user.auth);
      const body = exampleBody(route);
      return body ? req.send(body) : req;
    };

    it.each(ROUTES.map((r) => [routeName(r), r] as const))(
      '%s answers 400 validation_failed for an id that is not a UUID',
      async (_, route) => {
        for (const id of ['not-a-uuid', '123', `${randomUUID()}x`]) {
          expectError(await call(route, id, owner), 400, 'validation_failed');
        }
      },
    );

    it.each(ROUTES.map((r) => [routeName(r), r] as const))(
      '%s answers 404 device_not_found for an unknown UUID',
      async (_, route) => {
        expectError(await call(route, randomUUID(), owner), 404, 'device_not_found');
      },
    );

    it.each(ROUTES.map((r) => [routeName(r), r] as const))(
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

    it.each(ROUTES.map((r) => [routeName(r), r] as const))(
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
});
