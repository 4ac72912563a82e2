import { createHash } from 'node:crypto';
import {
  createDeviceClient,
  createOwnerClient,
  deviceSigner,
  type RegistryClient,
} from '../clients/typescript/src';
import { generateClientTypes } from '../src/cli/openapi';
import { createTestApp, TestApp } from './app';
import { newCredentials } from './factories/users';

/** The typed client of clients/typescript against the real app on a real port. */
describe('TypeScript client (e2e)', () => {
  let t: TestApp;
  let baseUrl: string;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
  });
  afterAll(() => t.close());

  it('has types that are what openapi-typescript generates from openapi.json', () => {
    expect(() => generateClientTypes(true)).not.toThrow();
  });

  it('does the owner flow and the device flow', async () => {
    const anonymous = createOwnerClient(baseUrl);
    const credentials = newCredentials();
    const registered = await anonymous.POST('/api/v1/auth/register', { body: credentials });
    expect(registered.response.status).toBe(201);
    const login = await anonymous.POST('/api/v1/auth/login', { body: credentials });
    const owner = createOwnerClient(baseUrl, login.data!.accessToken);
    expect((await owner.GET('/api/v1/auth/me')).data?.email).toBe(credentials.email);

    const created = await owner.POST('/api/v1/devices', { body: { name: 'Client test' } });
    expect(created.response.status).toBe(201);
    const id = created.data!.id;
    expect(created.response.headers.get('location')).toBe(`/api/v1/devices/${id}`);
    expect(created.response.headers.get('cache-control')).toBe('no-store');

    const byId = { params: { path: { id } } };
    expect((await owner.GET('/api/v1/devices')).data?.items.map((d) => d.id)).toEqual([id]);
    const renamed = await owner.PATCH('/api/v1/devices/{id}', {
      ...byId,
      body: { name: 'Renamed' },
    });
    expect(renamed.data?.name).toBe('Renamed');
    const clash = await owner.POST('/api/v1/devices', { body: { name: 'renamed' } });
    // The error's code is typed: the union of the codes the document lists.
    type Code = NonNullable<typeof clash.error>['code'];
    const expected: Code = 'device_name_taken';
    // @ts-expect-error: not a code this route can answer
    const unknown: Code = 'email_taken';
    expect([clash.error?.code, unknown]).toEqual([expected, 'email_taken']);

    const device = createDeviceClient(baseUrl, { id, secret: created.data!.secret });
    const me = await device.GET('/api/v1/device/me');
    expect(me.data).toMatchObject({ id, name: 'Renamed', ownerId: registered.data!.id });
    const beat = await device.POST('/api/v1/device/heartbeat', { body: { equity: 10250.5 } });
    expect(beat.response.status).toBe(204);

    const rotated = await owner.POST('/api/v1/devices/{id}/rotate-secret', {
      ...byId,
      body: { graceSeconds: 60 },
    });
    expect(rotated.response.headers.get('cache-control')).toBe('no-store');
    const rotatedDevice = createDeviceClient(baseUrl, { id, secret: rotated.data!.secret });
    expect((await rotatedDevice.GET('/api/v1/device/me')).data?.id).toBe(id);
    expect((await device.GET('/api/v1/device/me')).data?.id).toBe(id);

    const events = await owner.GET('/api/v1/devices/{id}/events', byId);
    expect(events.data?.items.map((e) => e.type)).toEqual([
      'secret_rotated',
      'renamed',
      'registered',
    ]);

    expect((await owner.POST('/api/v1/devices/{id}/revoke', byId)).response.status).toBe(204);
    const refused = await rotatedDevice.GET('/api/v1/device/me');
    expect(refused.error?.code).toBe('invalid_signature');
    expect((await owner.DELETE('/api/v1/devices/{id}', byId)).response.status).toBe(204);
    expect((await owner.GET('/api/v1/devices/{id}', byId)).error?.code).toBe('device_not_found');

    expect((await owner.DELETE('/api/v1/auth/me')).response.status).toBe(204);
    const gone: RegistryClient = owner;
    expect((await gone.GET('/api/v1/auth/me')).error?.code).toBe('unauthorized');
  });

  it('sends X-Content-SHA256 of the body it signs, and none without a body', async () => {
    const signer = deviceSigner({ id: '1b4e28ba-2fa1-41d2-883f-0016d3cca427', secret: 'dvs_x' });
    type Params = Parameters<NonNullable<typeof signer.onRequest>>[0];
    const sign = async (request: Request) =>
      (await signer.onRequest!({ request } as Params)) as Request;
    const body = '{"equity":1}';
    const withBody = await sign(
      new Request(`${baseUrl}/api/v1/device/heartbeat`, { method: 'POST', body }),
    );
    expect(withBody.headers.get('x-content-sha256')).toBe(
      createHash('sha256').update(body).digest('hex'),
    );
    expect(await withBody.text()).toBe(body);
    const without = await sign(new Request(`${baseUrl}/api/v1/device/me`));
    expect(without.headers.get('x-content-sha256')).toBeNull();
    expect(without.headers.get('x-signature')).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});
