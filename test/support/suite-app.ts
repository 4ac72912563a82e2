import { createTestApp, TestApp, TestAppOptions } from '../app';
import { createDevice, TestDevice } from '../factories/devices';
import { registerUser, TestUser } from '../factories/users';

// The start most e2e suites share, for their beforeAll; the suite closes the app:
//
//   let t: TestApp;
//   let user: TestUser;
//   beforeAll(async () => ({ t, user } = await appWithUser()));
//   afterAll(() => t.close());

/** Runs `work`; if it fails, closes `t` (the suite never got it to close) and rethrows. */
async function closingOnFailure<T>(t: TestApp, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await t.close();
    throw error;
  }
}

/** A test app (createTestApp(options)) with one registered user. */
export async function appWithUser(
  options: TestAppOptions = {},
): Promise<{ t: TestApp; user: TestUser }> {
  const t = await createTestApp(options);
  return closingOnFailure(t, async () => ({ t, user: await registerUser(t) }));
}

/** appWithUser, and one device of that user named `deviceName` (a unique name by default). */
export async function appWithDevice(
  options: TestAppOptions & { deviceName?: string } = {},
): Promise<{ t: TestApp; user: TestUser; device: TestDevice }> {
  const { deviceName, ...appOptions } = options;
  const { t, user } = await appWithUser(appOptions);
  return closingOnFailure(t, async () => ({
    t,
    user,
    device: await createDevice(t, user, deviceName),
  }));
}
