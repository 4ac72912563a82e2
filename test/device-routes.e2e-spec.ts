import request from 'supertest';
import { createTestApp, TestApp } from './app';
import { createDevice, TestDevice } from './factories/devices';
import { expectError } from './factories/errors';
import { signedRequest } from './factories/signed';
import { registerUser } from './factories/users';
import { DeviceProbeModule } from './support/device-probe.module';

const PROBE = '/api/v1/probe/orders';
const order = (body: string) => ({ method: 'POST' as const, path: PROBE, body });

/** A device route is whatever @DeviceAuth() marks, wherever it is mounted. */
describe('device routes follow @DeviceAuth(), not the URL (e2e)', () => {
  let t: TestApp;
  let device: TestDevice;

  beforeAll(async () => {
    t = await createTestApp({ imports: [DeviceProbeModule] });
    device = await createDevice(t, await registerUser(t));
  });
  afterAll(() => t.close());

  it('authenticates a signed request and hands the handler the device and the body', async () => {
    const res = await signedRequest(t, device, order('{"symbol":"EURUSD"}')).expect(200);
    expect(res.body).toEqual({ deviceId: device.id, body: { symbol: 'EURUSD' } });
  });

  it('answers 401 before a body error for an unauthenticated request', async () => {
    const res = await request(t.server)
      .post(PROBE)
      .set('Content-Type', 'application/json')
      .send('{bad');
    expectError(res, 401, 'device_auth_malformed');
    const text = await request(t.server).post(PROBE).set('Content-Type', 'text/plain').send('x');
    expectError(text, 401, 'device_auth_malformed');
  });

  it('answers the body error only to an authenticated device', async () => {
    expectError(await signedRequest(t, device, order('{bad')), 400, 'validation_failed');
  });

  it('has the 4 KiB device body limit, not the 16 KiB owner one', async () => {
    const exact = JSON.stringify({ pad: 'x'.repeat(4096 - 10) });
    expect(Buffer.byteLength(exact)).toBe(4096);
    await signedRequest(t, device, order(exact)).expect(200);
    const over = JSON.stringify({ pad: 'x'.repeat(5000) });
    expectError(await signedRequest(t, device, order(over)), 413, 'payload_too_large');
  });

  it('keeps owner routes at 16 KiB and answering body errors at once', async () => {
    const res = await request(t.server)
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .send('{bad');
    expectError(res, 400, 'validation_failed');
    const big = JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(8000) });
    const login = await request(t.server)
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .send(big);
    expect(login.status).not.toBe(413);
  });
});
