import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, DEVICE_KEYS, getDevice, SECRET_PATTERN } from './factories/devices';
import { expectError } from './factories/errors';
import { ownerCalls, ISO, tick } from './factories/owner-calls';
import { registerUser, TestUser } from './factories/users';

// The secret lifecycle: revocation destroys the secrets, rotation keeps one
// previous secret for its grace.
describe('devices: revocation and secret rotation (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const { revoke, events, secretRows } = ownerCalls(() => t);

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
});
