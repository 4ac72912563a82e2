import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiSecurity } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';
import { DEVICE_AUTH_FAILURES_PER_MINUTE } from './device-auth.service';
import { DeviceRoute } from './device-route';
import { DeviceSignatureGuard } from './device-signature.guard';

export const DEVICE_SIGNATURE_SCHEME = 'deviceSignature';

export const DEVICE_SIGNATURE_DESCRIPTION = [
  'Device requests carry four headers: `X-Device-Id` (the device id), `X-Timestamp` (Unix seconds),',
  '`X-Nonce` (16–128 characters of `[A-Za-z0-9_-]`, fresh for every request) and `X-Signature`:',
  'standard base64 of HMAC-SHA256 keyed with the UTF-8 bytes of the device secret (including `dvs_`) over',
  'six lines joined by `\\n`: METHOD, the request target as sent (path and query), X-Timestamp, X-Nonce,',
  'X-Device-Id, and the lower-case hex SHA-256 of the raw body (of the empty string without a body).',
  'Failures are 401 with code `device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` or',
  '`nonce_replayed`; after 50 such answers in a minute for one client IP, device requests from it',
  'are 429 `rate_limited` until the minute has passed. A request with a body may also send',
  '`X-Content-SHA256` (the hex SHA-256 of the body); it must match the body received.',
].join(' ');

/**
 * Protects a route with device authentication instead of the owner JWT; the
 * handler receives the device through @CurrentDevice(). Any module that
 * imports DeviceAuthModule can use it. The route becomes a device route
 * (DeviceRoute): 4 KiB body limit, authentication before body errors.
 */
export function DeviceAuth() {
  return applyDecorators(
    Public(),
    DeviceRoute(),
    UseGuards(DeviceSignatureGuard),
    ApiSecurity(DEVICE_SIGNATURE_SCHEME),
    ApiHeader({ name: 'X-Device-Id', required: true, description: 'The device id (UUID)' }),
    ApiHeader({ name: 'X-Timestamp', required: true, description: 'Unix time in whole seconds' }),
    ApiHeader({
      name: 'X-Nonce',
      required: true,
      description: '16–128 characters of [A-Za-z0-9_-], fresh per request',
    }),
    ApiHeader({
      name: 'X-Content-SHA256',
      required: false,
      description:
        'Lower-case hex SHA-256 of the body; optional here, but when sent it must match the body received',
    }),
    ApiErrors(
      [
        401,
        '`device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` (unknown or revoked device, ' +
          "expired previous secret, wrong signature, X-Content-SHA256 not the body's) or `nonce_replayed`",
      ],
      [413, '`payload_too_large`: body over 4 KiB'],
      [
        429,
        `\`rate_limited\`: ${DEVICE_AUTH_FAILURES_PER_MINUTE} device requests answered 401 in a minute for this client IP`,
      ],
    ),
  );
}
