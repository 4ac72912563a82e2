import { randomUUID } from 'node:crypto';
import { ApiError } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import {
  deviceAuthHarness,
  contextFor,
  newSecret,
  freshIp,
  rejection,
  codeOf,
  signedMe,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: the per-IP failure limit and the
// device_auth_total counter. The fakes of the stores are shared with the other
// device-signature.guard.*.spec.ts files (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: failure limits and metrics', () => {
  const { findLiveSecrets, mark, metrics, guard, addDevice, refused, nonceRecorded, limits } =
    deviceAuthHarness();

  describe('failure limits → 429 rate_limited', () => {
    // The contract's number: the cases below fail if the service's limit drifts from it.
    const LIMIT = 50;

    function retryAfterOf(error: ApiError): number {
      const value = error.headers['Retry-After'];
      expect(value).toMatch(/^\d+$/);
      return Number(value);
    }

    it('blocks an IP after 50 failures, even for a valid request of another device', async () => {
      const ip = freshIp();
      const forged = () => signedMe(randomUUID(), newSecret(), {}, { ip });
      for (let i = 0; i < LIMIT - 1; i++) await refused(forged(), 401, ErrorCode.InvalidSignature);
      // The 50th failure is still answered 401 …
      await refused(forged(), 401, ErrorCode.InvalidSignature);

      // … and from then on every device request from that IP is 429.
      const { device, secrets } = addDevice();
      findLiveSecrets.mockClear();
      const valid = signedMe(device.id, secrets[0], {}, { ip });
      const error = await refused(valid, 429, ErrorCode.RateLimited);

      const retryAfter = retryAfterOf(error);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(findLiveSecrets).not.toHaveBeenCalled();
      expect(nonceRecorded(device.id, valid.headers['x-nonce'] as string)).toBe(false);

      // Another IP is not affected.
      const elsewhere = signedMe(device.id, secrets[0]);
      await expect(guard.canActivate(contextFor(elsewhere))).resolves.toBe(true);
    });

    it('refuses a valid request when other instances counted the failures, and gives its nonce back', async () => {
      const ip = freshIp();
      // Failures from this IP answered by other instances: this one never saw them.
      for (let i = 0; i < LIMIT; i++) await limits.hit(`device-401:ip:${ip}`, 60);
      const { device, secrets } = addDevice();
      const valid = signedMe(device.id, secrets[0], {}, { ip });
      const peek = jest.spyOn(limits, 'peek');

      const error = await refused(valid, 429, ErrorCode.RateLimited);

      expect(retryAfterOf(error)).toBeLessThanOrEqual(60);
      // A 429 leaves the nonce unused: the same request is admitted once the window closes.
      expect(nonceRecorded(device.id, valid.headers['x-nonce'] as string)).toBe(false);
      expect(peek).toHaveBeenCalledTimes(1);

      // The instance now knows: the next request from that IP costs no lookup and no store.
      findLiveSecrets.mockClear();
      const next = signedMe(device.id, secrets[0], {}, { ip });
      await refused(next, 429, ErrorCode.RateLimited);
      expect(peek).toHaveBeenCalledTimes(1);
      expect(findLiveSecrets).not.toHaveBeenCalled();
    });

    it('counts 401 policy refusals (device_disabled) but not 403 insufficient_scope', async () => {
      const ip = freshIp();
      const { device, secrets } = addDevice();
      const sign = () => signedMe(device.id, secrets[0], {}, { ip });
      // A device with a good credential calling a route it may not use is not
      // a failed authentication: any number of them leave the IP alone.
      for (let i = 0; i < LIMIT + 5; i++) {
        const error = await rejection(guard.canActivate(contextFor(sign(), ['orders:write'])));
        expect(codeOf(error)).toBe(ErrorCode.InsufficientScope);
      }
      await expect(guard.canActivate(contextFor(sign()))).resolves.toBe(true);
      mark.mockClear();

      device.disabledAt = new Date();
      for (let i = 0; i < LIMIT; i++) await refused(sign(), 401, ErrorCode.DeviceDisabled);
      await refused(sign(), 429, ErrorCode.RateLimited);
    });

    it('counts malformed and skewed requests as failures too', async () => {
      const ip = freshIp();
      for (let i = 0; i < LIMIT; i++) {
        const req = signedMe(
          randomUUID(),
          newSecret(),
          { timestamp: i % 2 ? 0 : undefined },
          { ip },
        );
        if (i % 2 === 0) req.headers['x-nonce'] = 'short';
        await refused(
          req,
          401,
          i % 2 ? ErrorCode.TimestampOutOfRange : ErrorCode.DeviceAuthMalformed,
        );
      }
      const { device, secrets } = addDevice();
      const valid = signedMe(device.id, secrets[0], {}, { ip });

      await refused(valid, 429, ErrorCode.RateLimited);
    });

    it('never counts failures against a device id: 50 forged requests with its id from one IP leave it working elsewhere', async () => {
      const { device, secrets } = addDevice();
      const attacker = freshIp();
      for (let i = 0; i < LIMIT; i++) {
        const forged = signedMe(device.id, newSecret(), {}, { ip: attacker });
        await refused(forged, 401, ErrorCode.InvalidSignature);
      }
      await refused(
        signedMe(device.id, secrets[0], {}, { ip: attacker }),
        429,
        ErrorCode.RateLimited,
      );

      const valid = signedMe(device.id, secrets[0]);
      await expect(guard.canActivate(contextFor(valid))).resolves.toBe(true);
      expect(valid.device?.id).toBe(device.id);
    });
  });

  describe('metrics', () => {
    async function sample(result: string): Promise<number | undefined> {
      const text = await metrics.registry.getSingleMetricAsString('device_auth_total');
      const match = new RegExp(`^device_auth_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(
        text,
      );
      return match ? Number(match[1]) : undefined;
    }

    it('counts device_auth_total by result', async () => {
      const okBefore = (await sample('ok')) ?? 0;
      const badBefore = (await sample('invalid_signature')) ?? 0;
      const { device, secrets } = addDevice();

      const ok = signedMe(device.id, secrets[0]);
      await expect(guard.canActivate(contextFor(ok))).resolves.toBe(true);
      mark.mockClear();
      const bad = signedMe(device.id, newSecret());
      await refused(bad, 401, ErrorCode.InvalidSignature);

      expect(await sample('ok')).toBe(okBefore + 1);
      expect(await sample('invalid_signature')).toBe(badBefore + 1);
    });
  });
});
