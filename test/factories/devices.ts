import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from '../app';
import type { TestUser } from './users';

export interface TestDevice {
  id: string;
  name: string;
  secret: string;
}

export async function createDevice(
  t: TestApp,
  owner: TestUser,
  name = `dev-${randomBytes(4).toString('hex')}`,
): Promise<TestDevice> {
  const res = await request(t.server)
    .post('/api/v1/devices')
    .set(owner.auth)
    .send({ name })
    .expect(201);
  return { id: res.body.id, name: res.body.name, secret: res.body.secret };
}
