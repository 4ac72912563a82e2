import { randomBytes } from 'node:crypto';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { signedRequest } from './factories/signed';
import { registerUser } from './factories/users';
import { SecretsResealService } from '../src/devices/secrets-reseal.service';
import { kekId } from '../src/devices/secret-sealer';

const key = () => randomBytes(32).toString('base64');

describe('KEK rotation', () => {
  const oldKek = key();
  const newKek = key();
  let first: TestApp;
  let devices: TestDevice[];

  beforeAll(async () => {
    first = await createTestApp({ env: { DEVICE_SECRET_KEK: oldKek } });
    const owner = await registerUser(first);
    devices = [];
    for (let i = 0; i < 5; i++) devices.push(await createDevice(first, owner));
  });
  afterAll(() => first?.close());

  const kekIds = async (t: TestApp) =>
    (await t.dataSource.query('SELECT DISTINCT kek_id FROM device_secrets')).map(
      (r: { kek_id: string }) => r.kek_id,
    );

  it('without the old KEK the secrets do not open', async () => {
    const stranger = await createTestApp({
      databaseUrl: first.databaseUrl,
      env: { DEVICE_SECRET_KEK: newKek },
    });
    try {
      const res = await signedRequest(stranger, devices[0]).expect(401);
      expect(res.body.code).toBe('invalid_signature');
    } finally {
      await stranger.close();
    }
  });

  it('re-seals every secret under the new KEK, idempotently, while the old one still opens them', async () => {
    const rotated = await createTestApp({
      databaseUrl: first.databaseUrl,
      env: { DEVICE_SECRET_KEK: newKek, DEVICE_SECRET_KEK_PREVIOUS: oldKek },
    });
    try {
      // Secrets sealed under DEVICE_SECRET_KEK_PREVIOUS still verify.
      await signedRequest(rotated, devices[0]).expect(200);
      expect(await kekIds(rotated)).toEqual([kekId(Buffer.from(oldKek, 'base64'))]);

      const reseal = rotated.app.get(SecretsResealService);
      expect(await reseal.resealAll(2)).toBe(5);
      expect(await reseal.resealAll(2)).toBe(0);
      expect(await kekIds(rotated)).toEqual([kekId(Buffer.from(newKek, 'base64'))]);
    } finally {
      await rotated.close();
    }

    // The old KEK can now be dropped.
    const after = await createTestApp({
      databaseUrl: first.databaseUrl,
      env: { DEVICE_SECRET_KEK: newKek },
    });
    try {
      for (const d of devices) await signedRequest(after, d).expect(200);
    } finally {
      await after.close();
    }
  });
});
