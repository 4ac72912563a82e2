import { ErrorCode } from '../common/error-codes';
import {
  deviceAuthHarness,
  ME,
  contextFor,
  newSecret,
  deviceRow,
  signedRequest,
  signedMe,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: which secrets are live:
// rotation, revocation elsewhere, sealing, a racing deletion. The fakes of the
// stores are shared with the other device-signature.guard.*.spec.ts files
// (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: live secrets: rotation, revocation, sealing', () => {
  const h = deviceAuthHarness();
  const {
    kek,
    sealer,
    strangerSealer,
    findLiveSecrets,
    nonces,
    mark,
    guard,
    setLive,
    addDevice,
    refused,
  } = h;

  describe('secret rotation and sealing', () => {
    it('accepts both the current and the previous secret during the grace period', async () => {
      const { device, secrets } = addDevice([newSecret(), newSecret()]);

      for (const secret of secrets) {
        mark.mockClear();
        const req = signedRequest({ deviceId: device.id, secret, method: 'GET', path: ME });

        await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
        expect(req.device).toEqual(device);
        expect(req.device).not.toHaveProperty('sealed');
        expect(req.device).not.toHaveProperty('kekId');
        expect(mark).toHaveBeenCalledWith(device.id);
      }
    });

    it('rejects the previous secret once its grace period is over', async () => {
      const [current, previous] = [newSecret(), newSecret()];
      const { device } = addDevice([current, previous]);
      setLive(device, [current]);
      const req = signedRequest({ deviceId: device.id, secret: previous, method: 'GET', path: ME });

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('refuses a secret that died after its key was cached, and looks the keys up again next time', async () => {
      const { device, secrets } = addDevice();
      const sign = { deviceId: device.id, secret: secrets[0], method: 'GET', path: ME };
      await expect(guard.canActivate(contextFor(signedRequest(sign)))).resolves.toBe(true);
      await expect(guard.canActivate(contextFor(signedRequest(sign)))).resolves.toBe(true);
      expect(findLiveSecrets).toHaveBeenCalledTimes(1);
      mark.mockClear();

      setLive(device, []); // revoked on another instance: nothing told this one
      await refused(signedRequest(sign), 401, ErrorCode.InvalidSignature);
      expect(findLiveSecrets).toHaveBeenCalledTimes(1);
      await refused(signedRequest(sign), 401, ErrorCode.InvalidSignature);
      expect(findLiveSecrets).toHaveBeenCalledTimes(2);
    });

    it('looks the keys up once more when no cached key verifies (a rotation elsewhere)', async () => {
      const [old, rotated] = [newSecret(), newSecret()];
      const { device } = addDevice([old]);
      const sign = { deviceId: device.id, method: 'GET', path: ME };
      await expect(
        guard.canActivate(contextFor(signedRequest({ ...sign, secret: old }))),
      ).resolves.toBe(true);

      setLive(device, [rotated]);
      await expect(
        guard.canActivate(contextFor(signedRequest({ ...sign, secret: rotated }))),
      ).resolves.toBe(true);
      expect(findLiveSecrets).toHaveBeenCalledTimes(2);
      await expect(
        guard.canActivate(contextFor(signedRequest({ ...sign, secret: rotated }))),
      ).resolves.toBe(true);
      expect(findLiveSecrets).toHaveBeenCalledTimes(2);
    });

    it('rejects a device with no live rows (revoked) with invalid_signature', async () => {
      const { device, secrets } = addDevice();
      setLive(device, []);
      const req = signedMe(device.id, secrets[0]);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });

    it('answers 401 invalid_signature, not 500, for a secret sealed under an unknown KEK, and does not log the secret', async () => {
      const { device, secrets } = addDevice([newSecret()], strangerSealer);
      const req = signedMe(device.id, secrets[0]);

      await refused(req, 401, ErrorCode.InvalidSignature);

      expect(h.logError).toHaveBeenCalledTimes(1);
      const logged = h.logError.mock.calls
        .map((args: unknown[]) => JSON.stringify(args))
        .join('\n');
      expect(logged).toContain(device.id);
      expect(logged).not.toContain(secrets[0]);
      expect(logged).not.toContain(secrets[0].slice(4));
      expect(logged).not.toContain(kek.toString('base64'));
    });

    it('rejects a sealed secret copied from another device (its AAD does not match)', async () => {
      const victim = addDevice();
      const intruder = deviceRow();
      setLive(intruder, [victim.secrets[0]], sealer, victim.device.id);
      const req = signedMe(intruder.id, victim.secrets[0]);

      await refused(req, 401, ErrorCode.InvalidSignature);
      expect(h.logError).toHaveBeenCalled();
    });
  });

  describe('a deletion racing the nonce', () => {
    it('answers invalid_signature when the statement finds the device no longer live', async () => {
      const { device, secrets } = addDevice();
      jest.spyOn(nonces, 'admit').mockResolvedValueOnce({ outcome: 'not_live' });
      const req = signedMe(device.id, secrets[0]);

      await refused(req, 401, ErrorCode.InvalidSignature);
    });
  });
});
