import { ErrorCode } from '../common/error-codes';
import {
  deviceAuthHarness,
  ME,
  contextFor,
  newSecret,
  freshIp,
  signedRequest,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: the clock window and replayed
// nonces. The fakes of the stores are shared with the other
// device-signature.guard.*.spec.ts files (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: timestamps and nonces', () => {
  const { mark, guard, addDevice, freezeClock, refused, nonceRecorded, signedByNewDevice } =
    deviceAuthHarness();

  describe('timestamp skew', () => {
    it.each([
      ['301 s in the past', -301],
      ['301 s in the future', 301],
      ['a day in the past', -86_400],
      ['zero (1970)', null],
    ])('rejects a timestamp %s with 401 timestamp_out_of_range', async (_what, offset) => {
      const now = freezeClock();
      const { device, req } = signedByNewDevice({
        timestamp: offset === null ? 0 : now + offset,
      });

      await refused(req, 401, ErrorCode.TimestampOutOfRange);
      expect(nonceRecorded(device.id, req.headers['x-nonce'] as string)).toBe(false);
    });

    it.each([
      ['299 s in the past', -299],
      ['299 s in the future', 299],
      ['exactly 300 s in the past', -300],
      ['exactly 300 s in the future', 300],
    ])('accepts a timestamp %s', async (_what, offset) => {
      const now = freezeClock();
      const { device, req } = signedByNewDevice({ timestamp: now + offset });

      await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      expect(mark).toHaveBeenCalledWith(device.id);
    });
  });

  describe('nonces', () => {
    it('rejects a replayed nonce with 401 nonce_replayed', async () => {
      const { device, secrets } = addDevice();
      const sign = {
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce: 'replay-nonce-0001',
      };
      const first = signedRequest(sign);
      await expect(guard.canActivate(contextFor(first))).resolves.toBe(true);
      mark.mockClear();

      const again = signedRequest(sign);
      await refused(again, 401, ErrorCode.NonceReplayed);
    });

    it('rejects a replay that differs only in the case of X-Device-Id', async () => {
      const { device, secrets } = addDevice();
      const nonce = 'replay-nonce-case1';
      const first = signedRequest({
        deviceId: device.id,
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });
      await expect(guard.canActivate(contextFor(first))).resolves.toBe(true);
      mark.mockClear();

      const upper = signedRequest({
        deviceId: device.id.toUpperCase(),
        secret: secrets[0],
        method: 'GET',
        path: ME,
        nonce,
      });
      await refused(upper, 401, ErrorCode.NonceReplayed);
    });

    it('lets another device use the same nonce', async () => {
      const nonce = 'shared-nonce-00001';
      for (const { device, secrets } of [addDevice(), addDevice()]) {
        const req = signedRequest({
          deviceId: device.id,
          secret: secrets[0],
          method: 'GET',
          path: ME,
          nonce,
        });
        await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      }
    });

    it('does not record the nonce of a rejected request, so a later valid request may use it', async () => {
      const now = freezeClock();
      const { device, secrets } = addDevice();
      const nonce = 'rejected-nonce-0001';
      const ip = freshIp();
      const base = { deviceId: device.id, method: 'GET', path: ME, nonce };

      // Forged: right nonce, wrong secret.
      await refused(
        signedRequest({ ...base, secret: newSecret() }, { ip }),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, timestamp out of range.
      await refused(
        signedRequest({ ...base, secret: secrets[0], timestamp: now - 301 }, { ip }),
        401,
        ErrorCode.TimestampOutOfRange,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, tampered body.
      await refused(
        signedRequest(
          { ...base, secret: secrets[0], body: '{}' },
          { ip, rawBody: Buffer.from('{ }') },
        ),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      const valid = signedRequest({ ...base, secret: secrets[0] }, { ip });
      await expect(guard.canActivate(contextFor(valid))).resolves.toBe(true);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });
  });
});
