import { randomBytes } from 'node:crypto';
import { createTestApp, TestApp, TestData } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { signedRequest } from './factories/signed';
import { registerUser } from './factories/users';
import { SecretsResealService } from '../src/devices/secrets-reseal.service';
import { kekId } from '../src/devices/secret-sealer';

const key = () => randomBytes(32).toString('base64');

// One set of data; the service restarted with each configuration, as an
// operator rotating the KEK does it.
describe('KEK rotation', () => {
  const oldKek = key();
  const newKek = key();
  let data: TestData | undefined;
  let devices: TestDevice[];

  async function restartWith(env: Record<string, string>, work: (t: TestApp) => Promise<void>) {
    const t = await createTestApp({ data, env });
    try {
      await work(t);
    } finally {
      data = await t.stop();
    }
  }

  beforeAll(() =>
    restartWith({ DEVICE_SECRET_KEK: oldKek }, async (t) => {
      const owner = await registerUser(t);
      devices = [];
      for (let i = 0; i < 5; i++) devices.push(await createDevice(t, owner));
    }),
  );
  afterAll(() => data?.drop());

  const kekIds = async (t: TestApp) =>
    (await t.dataSource.query('SELECT DISTINCT kek_id FROM device_secrets')).map(
      (r: { kek_id: string }) => r.kek_id,
    );

  it('without the old KEK the secrets do not open', () =>
    restartWith({ DEVICE_SECRET_KEK: newKek }, async (stranger) => {
      const res = await signedRequest(stranger, devices[0]).expect(401);
      expect(res.body.code).toBe('invalid_signature');
    }));

  it('re-seals every secret under the new KEK, idempotently, while the old one still opens them', async () => {
    await restartWith(
      { DEVICE_SECRET_KEK: newKek, DEVICE_SECRET_KEK_PREVIOUS: oldKek },
      async (rotated) => {
        // Secrets sealed under DEVICE_SECRET_KEK_PREVIOUS still verify.
        await signedRequest(rotated, devices[0]).expect(200);
        expect(await kekIds(rotated)).toEqual([kekId(Buffer.from(oldKek, 'base64'))]);

        const reseal = rotated.app.get(SecretsResealService);
        expect(await reseal.resealAll(2)).toBe(5);
        expect(await reseal.resealAll(2)).toBe(0);
        expect(await kekIds(rotated)).toEqual([kekId(Buffer.from(newKek, 'base64'))]);
      },
    );

    // The old KEK can now be dropped.
    await restartWith({ DEVICE_SECRET_KEK: newKek }, async (after) => {
      for (const d of devices) await signedRequest(after, d).expect(200);
    });
  });
});
