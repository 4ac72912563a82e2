import { ErrorCode } from '../common/error-codes';
import {
  deviceAuthHarness,
  contextFor,
  newSecret,
  freshIp,
  signedMe,
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
    it.each([
      ['a replayed nonce', (id: string) => id],
      ['a replay that differs only in the case of X-Device-Id', (id: string) => id.toUpperCase()],
    ])('rejects %s with 401 nonce_replayed', async (_what, idOfReplay) => {
      const { device, secrets } = addDevice();
      const nonce = 'replay-nonce-0001';
      const first = signedMe(device.id, secrets[0], { nonce });
      await expect(guard.canActivate(contextFor(first))).resolves.toBe(true);
      mark.mockClear();

      const again = signedMe(idOfReplay(device.id), secrets[0], { nonce });
      await refused(again, 401, ErrorCode.NonceReplayed);
    });

    it('lets another device use the same nonce', async () => {
      const nonce = 'shared-nonce-00001';
      for (const { device, secrets } of [addDevice(), addDevice()]) {
        const req = signedMe(device.id, secrets[0], { nonce });
        await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
      }
    });

    it('does not record the nonce of a rejected request, so a later valid request may use it', async () => {
      const now = freezeClock();
      const { device, secrets } = addDevice();
      const nonce = 'rejected-nonce-0001';
      const ip = freshIp();

      // Forged: right nonce, wrong secret.
      await refused(
        signedMe(device.id, newSecret(), { nonce }, { ip }),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, timestamp out of range.
      await refused(
        signedMe(device.id, secrets[0], { nonce, timestamp: now - 301 }, { ip }),
        401,
        ErrorCode.TimestampOutOfRange,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      // Right secret, tampered body.
      await refused(
        signedMe(device.id, secrets[0], { nonce, body: '{}' }, { ip, rawBody: Buffer.from('{ }') }),
        401,
        ErrorCode.InvalidSignature,
      );
      expect(nonceRecorded(device.id, nonce)).toBe(false);

      const valid = signedMe(device.id, secrets[0], { nonce }, { ip });
      await expect(guard.canActivate(contextFor(valid))).resolves.toBe(true);
      expect(nonceRecorded(device.id, nonce)).toBe(true);
    });
  });
});
