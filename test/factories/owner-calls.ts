import request from 'supertest';
import type { TestApp } from '../app';
import type { TestUser } from './users';

// The owner routes of devices as the devices-*.e2e-spec.ts suites call them,
// and what they check the answers against.

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const EVENT_KEYS = ['at', 'details', 'id', 'type'];
/** Long enough for updatedAt to move on. */
export const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

export type Device = Record<string, unknown> & { id: string; name: string };

type Query = Record<string, string | number>;

/**
 * The calls, on the app `app()` answers when they are made (suites create
 * theirs in beforeAll). Bodies may be invalid on purpose.
 */
export function ownerCalls(app: () => TestApp) {
  const server = () => app().server;
  return {
    post: (user: TestUser, body: unknown) =>
      request(server())
        .post('/api/v1/devices')
        .set(user.auth)
        .send(body as object),
    rename: (user: TestUser, id: string, body: unknown) =>
      request(server())
        .patch(`/api/v1/devices/${id}`)
        .set(user.auth)
        .send(body as object),
    revoke: (user: TestUser, id: string) =>
      request(server()).post(`/api/v1/devices/${id}/revoke`).set(user.auth),
    list: (user: TestUser, query: Query = {}) =>
      request(server()).get('/api/v1/devices').query(query).set(user.auth),
    events: (user: TestUser, id: string, query: Query = {}) =>
      request(server()).get(`/api/v1/devices/${id}/events`).query(query).set(user.auth),
    /** The device's rows in device_secrets: current and previous secrets. */
    secretRows: async (deviceId: string) => {
      const [{ n }] = await app().dataSource.query(
        `SELECT count(*)::int AS n FROM device_secrets WHERE device_id = $1`,
        [deviceId],
      );
      return n as number;
    },
  };
}
