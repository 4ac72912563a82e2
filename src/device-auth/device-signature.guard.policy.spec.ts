import { ErrorCode } from '../common/error-codes';
import {
  deviceAuthHarness,
  contextFor,
  newSecret,
  rejection,
  codeOf,
  signedMe,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: the credential policy, checked
// after the signature. The fakes of the stores are shared with the other
// device-signature.guard.*.spec.ts files (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: credential policy', () => {
  const { mark, guard, addDevice, refused, nonceRecorded, nonces } = deviceAuthHarness();

  describe('credential policy, on the row the nonce statement returned', () => {
    it('answers 403 insufficient_scope on a route declaring a scope the device lacks, and burns the nonce', async () => {
      const { device, secrets } = addDevice();
      device.scopes = ['signals.read'];
      const req = signedMe(device.id, secrets[0]);

      const error = await rejection(guard.canActivate(contextFor(req, ['orders:write'])));

      expect({ status: error.getStatus(), code: codeOf(error) }).toEqual({
        status: 403,
        code: ErrorCode.InsufficientScope,
      });
      expect(req.device).toBeUndefined();
      expect(mark).not.toHaveBeenCalled();
      expect(nonceRecorded(device.id, req.headers['x-nonce'] as string)).toBe(true);
    });

    it('passes a device holding every scope the route declares', async () => {
      const { device, secrets } = addDevice();
      device.scopes = ['orders:write', 'signals.read'];
      const req = signedMe(device.id, secrets[0]);

      await expect(
        guard.canActivate(contextFor(req, ['orders:write', 'signals.read'])),
      ).resolves.toBe(true);
      expect(req.device).toBe(device);
    });

    it("judges expiry by the database's clock, not this instance's", async () => {
      const { device, secrets } = addDevice();
      // Not yet expired here, but past by the database, whose clock runs an hour ahead.
      device.expiresAt = new Date(Date.now() + 30 * 60_000);
      nonces.databaseClockAheadMs = 60 * 60_000;
      try {
        const req = signedMe(device.id, secrets[0]);
        await refused(req, 401, ErrorCode.CredentialExpired);
      } finally {
        nonces.databaseClockAheadMs = 0;
      }
    });

    it.each([
      ['disabled', { disabledAt: new Date() }, ErrorCode.DeviceDisabled],
      ['expired', { expiresAt: new Date(Date.now() - 1000) }, ErrorCode.CredentialExpired],
      ['outside allowedCidrs', { allowedCidrs: ['192.0.2.0/24'] }, ErrorCode.IpNotAllowed],
    ] as const)('answers 401 for a device %s, after the signature', async (_, change, code) => {
      const { device, secrets } = addDevice();
      Object.assign(device, change);
      const req = signedMe(device.id, secrets[0]);

      await refused(req, 401, code);
      expect(nonceRecorded(device.id, req.headers['x-nonce'] as string)).toBe(true);
      // A wrong signature is still only invalid_signature: nothing is told without the key.
      const forged = signedMe(device.id, newSecret());
      await refused(forged, 401, ErrorCode.InvalidSignature);
    });
  });
});
