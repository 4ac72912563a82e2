import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { TestApp } from '../app';

/**
 * A random client address per call (the suites run with TRUST_PROXY), so
 * per-IP limits stay out of the way, also across runs sharing one Redis.
 */
export function clientIp(): string {
  const hex = randomBytes(8).toString('hex').match(/.{4}/g)!;
  return `2001:db8::${hex.join(':')}`;
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

/** POST /auth/login from a fresh client address (or `ip`); the body may be invalid on purpose. */
export function login(t: TestApp, body: Record<string, unknown>, ip = clientIp()) {
  return request(t.server).post('/api/v1/auth/login').set('X-Forwarded-For', ip).send(body);
}

export async function registerUser(t: TestApp): Promise<TestUser> {
  const credentials = newCredentials();
  const registered = await request(t.server)
    .post('/api/v1/auth/register')
    .set('X-Forwarded-For', clientIp())
    .send(credentials)
    .expect(201);
  const res = await login(t, credentials).expect(200);
  const token = res.body.accessToken as string;
  return {
    id: registered.body.id,
    ...credentials,
    token,
    auth: { Authorization: `Bearer ${token}` },
  };
}
