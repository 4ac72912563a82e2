import { ApiError } from '../common/api-error';
import { UnparsedBody } from '../common/body-parsers';
import { ErrorCode } from '../common/error-codes';
import { sha256Hex, signRequest, type SignOptions } from './signing';
import {
  deviceAuthHarness,
  HEARTBEAT,
  contextFor,
  newSecret,
  freshIp,
  lowerCaseHeaders,
  rejection,
  codeOf,
} from '../../test/support/device-auth-harness';

// DeviceSignatureGuard over DeviceAuthService: deferred body errors, and
// forward auth, which sees no body. The fakes of the stores are shared with the
// other device-signature.guard.*.spec.ts files
// (test/support/device-auth-harness.ts).
describe('DeviceSignatureGuard: bodies: deferred body errors and forward auth', () => {
  const { mark, service, guard, addDevice, refused, signedByNewDevice } = deviceAuthHarness();

  describe('deferred body errors', () => {
    const notJson = () =>
      new ApiError(400, ErrorCode.ValidationFailed, 'Request body is not valid JSON');

    /** A POST to the heartbeat whose body the parser could not take, signed as `sign` says. */
    function withUnparsedBody(bodyError: ApiError, body: string, sign: Partial<SignOptions> = {}) {
      return signedByNewDevice(
        { method: 'POST', path: HEARTBEAT, body, ...sign },
        { body: new UnparsedBody(bodyError) },
      );
    }

    it('throws the UnparsedBody error of an authenticated request', async () => {
      const bodyError = notJson();
      const { req } = withUnparsedBody(bodyError, '{"a":');

      const error = await rejection(guard.canActivate(contextFor(req)));
      expect(error).toBe(bodyError);
      expect(error.getStatus()).toBe(400);
      expect(codeOf(error)).toBe('validation_failed');
    });

    it('throws a deferred 415 the same way', async () => {
      const bodyError = new ApiError(
        415,
        ErrorCode.UnsupportedMediaType,
        'Unsupported content type',
      );
      const { req } = withUnparsedBody(bodyError, 'plain text');

      const error = await rejection(guard.canActivate(contextFor(req)));
      expect(error.getStatus()).toBe(415);
      expect(codeOf(error)).toBe('unsupported_media_type');
    });

    it('answers 401 first when a request with an unparsed body is badly signed', async () => {
      const bodyError = notJson();
      const { req } = withUnparsedBody(bodyError, '{"a":', { secret: newSecret() });

      const error = await refused(req, 401, ErrorCode.InvalidSignature);
      expect(error).not.toBe(bodyError);
    });

    it('answers 401 first when a request with an unparsed body is malformed', async () => {
      const { req } = withUnparsedBody(notJson(), '{"a":');
      delete req.headers['x-signature'];

      await refused(req, 401, ErrorCode.DeviceAuthMalformed);
    });
  });

  describe('DeviceAuthService for a forward-auth description (no body seen)', () => {
    const ORDER = '/api/orders?account=7';
    const BODY = '{"lots":0.1}';

    function described(sign: SignOptions, headers: Record<string, string> = {}) {
      return {
        method: sign.method,
        target: sign.path,
        headers: { ...lowerCaseHeaders(signRequest(sign)), ...lowerCaseHeaders(headers) },
        clientIp: freshIp(),
      };
    }

    /** A new device and its order: a PUT of BODY to ORDER unless `change` says otherwise. */
    function orderOfNewDevice(change: Partial<SignOptions> = {}) {
      const { device, secrets } = addDevice();
      const sign: SignOptions = {
        deviceId: device.id,
        secret: secrets[0],
        method: 'PUT',
        path: ORDER,
        body: BODY,
        ...change,
      };
      return { device, sign };
    }

    it('answers the device, taking the body line from X-Content-SHA256', async () => {
      const { device, sign } = orderOfNewDevice();

      const result = await service.authenticate(described(sign));

      expect(result).toEqual({ ok: true, device });
      expect(mark).toHaveBeenCalledWith(device.id);
    });

    it('takes the empty body without X-Content-SHA256', async () => {
      const { sign } = orderOfNewDevice({ method: 'DELETE', body: undefined });

      await expect(service.authenticate(described(sign))).resolves.toMatchObject({ ok: true });
    });

    it.each([
      ['a hash of another body', sha256Hex('{"lots":100}'), ErrorCode.InvalidSignature],
      ['upper-case hex', sha256Hex(BODY).toUpperCase(), ErrorCode.DeviceAuthMalformed],
      ['not a hash', 'abc', ErrorCode.DeviceAuthMalformed],
    ])('answers a typed failure, without throwing, for %s', async (_what, hash, code) => {
      const { sign } = orderOfNewDevice();

      const result = await service.authenticate(described(sign, { 'X-Content-SHA256': hash }));

      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.failure.code).toBe(code);
      expect(result.failure.toApiError().getStatus()).toBe(401);
      expect(mark).not.toHaveBeenCalled();
    });
  });
});
