import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';
import { DEVICE_AUTH_FAILURES_PER_MINUTE } from './device-auth.service';
import { DeviceRoute } from './device-route';
import { DeviceSignatureGuard } from './device-signature.guard';

export const DEVICE_SIGNATURE_SCHEME = 'deviceSignature';

export const DEVICE_SIGNATURE_DESCRIPTION = [
  'Device requests carry these headers (they belong to this scheme, so they are not listed as parameters):',
  '`X-Device-Id` (the device id), `X-Timestamp` (Unix seconds), `X-Nonce` (16–128 characters of',
  '`[A-Za-z0-9_-]`, fresh for every request), `X-Content-SHA256` (lower-case hex SHA-256 of the body; optional',
  "on the registry's own routes, where it must then match the body) and `X-Signature`: standard base64 of",
  'HMAC-SHA256 keyed with the UTF-8 bytes of the device secret (including `dvs_`) over six lines joined by `\\n`:',
  'METHOD, the request target as sent (path and query), X-Timestamp, X-Nonce, X-Device-Id, and the',
  'lower-case hex SHA-256 of the raw body (of the empty string without a body).',
  'Failures are 401 with code `device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` or',
  '`nonce_replayed`, and after a good signature `device_disabled`, `credential_expired` or `ip_not_allowed`;',
  'after 50 such answers in a minute for one client IP, device requests from that IP',
  'are 429 `rate_limited` until the minute has passed.',
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
    ApiErrors(
      [
        401,
        '`device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` (unknown or revoked device, ' +
          "expired previous secret, wrong signature, X-Content-SHA256 not the body's) or `nonce_replayed`; " +
          'once the signature verifies, `device_disabled`, `credential_expired` or `ip_not_allowed` ' +
          '(outside allowedCidrs)',
      ],
      [
        429,
        `\`rate_limited\`: ${DEVICE_AUTH_FAILURES_PER_MINUTE} device requests answered 401 in a minute for this client IP`,
      ],
    ),
  );
}
