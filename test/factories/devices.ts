import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from '../app';
import type { TestUser } from './users';

export interface TestDevice {
  id: string;
  name: string;
  secret: string;
}

/** The fields of the device representation, sorted. */
export const DEVICE_KEYS = [
  'allowedCidrs',
  'createdAt',
  'disabledAt',
  'expiresAt',
  'id',
  'lastSeenAt',
  'name',
  'revokedAt',
  'scopes',
  'status',
  'updatedAt',
];

export const SECRET_PATTERN = /^dvs_[A-Za-z0-9_-]{43}$/;

export const uniqueName = (prefix = 'dev') => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function createDevice(
  t: TestApp,
  owner: TestUser,
  name = uniqueName(),
): Promise<TestDevice> {
  const res = await request(t.server)
    .post('/api/v1/devices')
    .set(owner.auth)
    .send({ name })
    .expect(201);
  return { id: res.body.id, name: res.body.name, secret: res.body.secret };
}

/** Rotates the device's secret through the API; answers the device with its new secret. */
export async function rotateSecret(
  t: TestApp,
  owner: TestUser,
  d: Pick<TestDevice, 'id'>,
  graceSeconds = 0,
): Promise<{ id: string; secret: string }> {
  const res = await request(t.server)
    .post(`/api/v1/devices/${d.id}/rotate-secret`)
    .set(owner.auth)
    .send({ graceSeconds })
    .expect(200);
  return { id: d.id, secret: res.body.secret as string };
}

export async function getDevice(t: TestApp, owner: TestUser, id: string) {
  const res = await request(t.server).get(`/api/v1/devices/${id}`).set(owner.auth).expect(200);
  return res.body as Record<string, unknown>;
}

/** Follows `nextCursor` to the end; returns every page. */
export async function allPages<T = Record<string, unknown>>(
  t: TestApp,
  owner: TestUser,
  path: string,
  query: Record<string, string | number> = {},
): Promise<{ items: T[]; nextCursor: string | null }[]> {
  const pages: { items: T[]; nextCursor: string | null }[] = [];
  let cursor: string | null = null;
  do {
    const res: request.Response = await request(t.server)
      .get(path)
      .query(cursor ? { ...query, cursor } : query)
      .set(owner.auth)
      .expect(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    pages.push(res.body);
    cursor = res.body.nextCursor;
    if (pages.length > 100) throw new Error(`${path}: paging does not end`);
  } while (cursor !== null);
  return pages;
}
