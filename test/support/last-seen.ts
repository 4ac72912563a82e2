import request from 'supertest';
import type { TestApp } from '../app';
import type { TestUser } from '../factories/users';

/**
 * The device's lastSeenAt as its owner sees it (GET /devices/{id}), polled
 * until it is set or `withinMs` has passed (it is written after the answer);
 * null if it was not set in time.
 */
export async function lastSeenWithin(
  t: TestApp,
  owner: TestUser,
  deviceId: string,
  withinMs = 5000,
): Promise<string | null> {
  const deadline = Date.now() + withinMs;
  let lastSeenAt: string | null = null;
  while (!lastSeenAt && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const res = await request(t.server).get(`/api/v1/devices/${deviceId}`).set(owner.auth);
    lastSeenAt = res.body.lastSeenAt;
  }
  return lastSeenAt;
}
