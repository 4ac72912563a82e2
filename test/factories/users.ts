import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from '../app';

let counter = 0;

/** A distinct client address per call (the suites run with TRUST_PROXY), so per-IP limits stay out of the way. */
export function clientIp(): string {
  counter++;
  return `203.0.${(counter >> 8) & 255}.${counter & 255}`;
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  auth: { Authorization: string };
}

export function newCredentials() {
  return {
    email: `user-${randomBytes(6).toString('hex')}@example.com`,
    password: `pw-${randomBytes(9).toString('base64url')}`,
  };
}

export async function registerUser(t: TestApp): Promise<TestUser> {
  const credentials = newCredentials();
  const registered = await request(t.server)
    .post('/api/v1/auth/register')
    .set('X-Forwarded-For', clientIp())
    .send(credentials)
    .expect(201);
  const login = await request(t.server)
    .post('/api/v1/auth/login')
    .set('X-Forwarded-For', clientIp())
    .send(credentials)
    .expect(200);
  const token = login.body.accessToken as string;
  return {
    id: registered.body.id,
    ...credentials,
    token,
    auth: { Authorization: `Bearer ${token}` },
  };
}
