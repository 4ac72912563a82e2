import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { registerUser } from './factories/users';
import { createDevice } from './factories/devices';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('registers a device', async () => {
    const u = await registerUser(t);
    const d = await createDevice(t, u, 'x');
    expect(d.secret).toMatch(/^dvs_/);
    const res = await request(t.server).get('/api/v1/devices').set(u.auth).expect(200);
    expect(res.body.items).toHaveLength(1);
  });
});
