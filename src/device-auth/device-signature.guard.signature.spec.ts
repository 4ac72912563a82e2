import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../common/error-codes';
import { type SignOptions } from './signing';
import {
  deviceAuthHarness,
  NONCE_TTL,
  ME,
  HEARTBEAT,
  contextFor,
  newSecret,
  signedRequest,
  type FakeRequest,
  signedMe,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: success, malformed headers, and
// what the signature covers. The fakes of the stores are shared with the other
// device-signature.guard.*.spec.ts files (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: signed requests: the headers, their form and the canonical string', () => {
  const {
    live,
    findLiveSecrets,
    nonces,
    mark,
    guard,
    addDevice,
    refused,
    nonceRecorded,
    signedByNewDevice,
  } = deviceAuthHarness();

  describe('success', () => {
    it('returns true, puts the device without its sealed secret on the request, marks it seen and records the nonce', async () => {
      const { device, secrets } = addDevice();
      const nonce = 'nonce-success-0001';
      const req = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'POST',
        path: `${HEARTBEAT}?x=1`,
        body: '{"battery":91}',
        nonce,
      });
      const admit = jest.spyOn(nonces, 'admit');

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);

      expect(req.device).toEqual(device);
      expect(req.device).not.toHaveProperty('sealed');
      expect(req.device).not.toHaveProperty('kekId');
      expect(mark).toHaveBeenCalledTimes(1);
      expect(mark).toHaveBeenCalledWith(device.id);
      expect(findLiveSecrets).toHaveBeenCalledWith(device.id);
      const secretId = live.get(device.id)!.secrets[0].secretId;
      expect(admit).toHaveBeenCalledWith(device.id, secretId, nonce, NONCE_TTL, {
        key: 'device-401:ip:10.0.0.1',
        limit: 50,
      });
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });

    it('accepts a GET without a body', async () => {
      const { device, req } = signedByNewDevice();

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(req.device?.id).toBe(device.id);
    });

    it.each([16, 128])('accepts a nonce of %i characters', async (length) => {
      const { device, secrets } = addDevice();
      const nonce = 'N'.repeat(length);
      const req = signedMe(device.id, secrets[0], { nonce });

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });
  });

  describe('malformed headers → 401 device_auth_malformed', () => {
    const HEADERS = ['x-device-id', 'x-timestamp', 'x-nonce', 'x-signature'] as const;

    /**
     * A correctly signed request whose signature has a '+' or '/' in it, so that
     * its base64url spelling differs from its base64 one.
     */
    function validRequest(): FakeRequest {
      const { device, secrets } = addDevice();
      for (;;) {
        const req = signedMe(device.id, secrets[0]);
        if (/[+/]/.test(req.headers['x-signature'] as string)) return req;
      }
    }

    it('starts from a request the guard accepts', async () => {
      const req = validRequest();

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
    });

    it.each(HEADERS)('rejects a request without %s', async (name) => {
      const req = validRequest();
      delete req.headers[name];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each(HEADERS)('rejects a request with %s given twice', async (name) => {
      const req = validRequest();
      const value = req.headers[name] as string;
      req.headers[name] = [value, value];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each(HEADERS)('rejects an empty %s', async (name) => {
      const req = validRequest();
      req.headers[name] = '';

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each([
      ['not a UUID', 'not-a-uuid'],
      ['a UUID with a trailing character', `${randomUUID()}0`],
      ['a UUID without dashes', randomUUID().replace(/-/g, '')],
      ['a UUID in braces', `{${randomUUID()}}`],
      ['an integer id', '42'],
    ])('rejects an X-Device-Id that is %s', async (_what, id) => {
      const { secrets } = addDevice();
      const req = signedMe(id, secrets[0]);

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(findLiveSecrets).not.toHaveBeenCalled();
    });

    const now = () => Math.floor(Date.now() / 1000);
    it.each([
      ['non-numeric', () => 'yesterday'],
      ['an ISO date', () => new Date().toISOString()],
      ['fractional', () => `${now()}.5`],
      ['negative', () => `-${now()}`],
      ['13 digits (milliseconds)', () => String(Date.now())],
      ['14 digits', () => `0${Date.now()}`],
      ['space-padded', () => ` ${now()}`],
      ['signed with a plus', () => `+${now()}`],
    ])('rejects an X-Timestamp that is %s', async (_what, timestamp) => {
      const { req } = signedByNewDevice({ timestamp: timestamp() });

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it.each([
      ['of 15 characters', 'a'.repeat(15)],
      ['of 129 characters', 'a'.repeat(129)],
      ['with a "!"', 'abcdefghijklmnop!'],
      ['with a "."', 'abcdefgh.ijklmnop'],
      ['with a "+"', 'abcdefgh+ijklmnop'],
      ['with a space', 'abcdefgh ijklmnop'],
      ['with a non-ASCII letter', 'abcdefghijklmnopé'],
    ])('rejects an X-Nonce %s', async (_what, nonce) => {
      const { device, secrets } = addDevice();
      const req = signedMe(device.id, secrets[0], { nonce });

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(nonceRecorded(device.id, nonce)).toBe(false);
    });

    const raw = (req: FakeRequest) => Buffer.from(req.headers['x-signature'] as string, 'base64');
    it.each([
      ['not base64', () => '!'.repeat(43) + '='],
      ['base64url', (req: FakeRequest) => raw(req).toString('base64url')],
      ['base64url with padding', (req: FakeRequest) => `${raw(req).toString('base64url')}=`],
      [
        'base64 without its padding',
        (req: FakeRequest) => raw(req).toString('base64').replace(/=$/, ''),
      ],
      ['hex', (req: FakeRequest) => raw(req).toString('hex')],
      ['31 bytes long', (req: FakeRequest) => raw(req).subarray(0, 31).toString('base64')],
      [
        '33 bytes long',
        (req: FakeRequest) => Buffer.concat([raw(req), Buffer.from([0])]).toString('base64'),
      ],
      [
        '64 bytes long',
        (req: FakeRequest) => Buffer.concat([raw(req), raw(req)]).toString('base64'),
      ],
      ['surrounded by spaces', (req: FakeRequest) => ` ${raw(req).toString('base64')} `],
    ])('rejects an X-Signature that is %s', async (_what, make) => {
      const req = validRequest();
      const original = req.headers['x-signature'];
      req.headers['x-signature'] = make(req);
      expect(req.headers['x-signature']).not.toBe(original);

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });

    it('checks nothing in the repository for a malformed request', async () => {
      const req = validRequest();
      req.headers['x-signature'] = 'AAAA';

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
      expect(findLiveSecrets).not.toHaveBeenCalled();
    });
  });

  describe('signature → 401 invalid_signature', () => {
    it('rejects an unknown device, after looking it up', async () => {
      const id = randomUUID();
      const req = signedMe(id, newSecret());

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(findLiveSecrets).toHaveBeenCalledWith(id);
      expect(nonceRecorded(id, req.headers['x-nonce'] as string)).toBe(false);
    });

    it('rejects an unknown device signed with the placeholder secret of the unknown-device path', async () => {
      const id = randomUUID();
      const req = signedMe(id, 'dvs_unknown-device');

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a request signed with another secret', async () => {
      const { device } = addDevice();
      const req = signedMe(device.id, newSecret());

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it("rejects a request signed with another device's secret", async () => {
      const { device } = addDevice();
      const other = addDevice();
      const req = signedMe(device.id, other.secrets[0]);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    type Signed = Omit<SignOptions, 'deviceId' | 'secret'>;
    const GET_ME: Signed = { method: 'GET', path: ME };
    const POST_BODY: Signed = { method: 'POST', path: HEARTBEAT, body: '{"a":1}' };
    it.each<[string, Signed, Partial<FakeRequest>]>([
      ['a different body', POST_BODY, { rawBody: Buffer.from('{"a":2}') }],
      ['a body when the request has none', POST_BODY, { rawBody: undefined }],
      [
        'an empty body when the request has one',
        { method: 'POST', path: HEARTBEAT },
        { rawBody: Buffer.from('{}') },
      ],
      ['a different path', GET_ME, { url: HEARTBEAT }],
      ['a different query', { method: 'GET', path: `${ME}?verbose=1` }, { url: `${ME}?verbose=2` }],
      ['no query when one is sent', GET_ME, { url: `${ME}?verbose=1` }],
      ['a query when none is sent', { method: 'GET', path: `${ME}?verbose=1` }, { url: ME }],
      [
        'the same query in another order',
        { method: 'GET', path: `${ME}?a=1&b=2` },
        { url: `${ME}?b=2&a=1` },
      ],
      ['a different method', { method: 'GET', path: HEARTBEAT }, { method: 'POST' }],
    ])('rejects a signature over %s', async (_what, signed, sent) => {
      const { device, secrets } = addDevice();
      const req = signedRequest({ deviceId: device.id, secret: secrets[0], ...signed }, sent);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a signature with one bit flipped', async () => {
      const { req } = signedByNewDevice();
      const sig = Buffer.from(req.headers['x-signature'] as string, 'base64');
      sig[0] ^= 1;
      req.headers['x-signature'] = sig.toString('base64');

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('rejects a signature whose X-Nonce was changed after signing', async () => {
      const { device, req } = signedByNewDevice();
      req.headers['x-nonce'] = 'another-nonce-0000';

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(nonceRecorded(device.id, 'another-nonce-0000')).toBe(false);
    });

    it('rejects a signature whose X-Timestamp was changed after signing', async () => {
      const { req } = signedByNewDevice();
      req.headers['x-timestamp'] = String(Number(req.headers['x-timestamp']) - 1);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });
  });
});
