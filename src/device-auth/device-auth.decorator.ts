import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';
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
 * imports DeviceAuthModule can use it.
 */
export function DeviceAuth() {
  return applyDecorators(
    Public(),
    UseGuards(DeviceSignatureGuard),
    ApiSecurity(DEVICE_SIGNATURE_SCHEME),
    ApiErrors(
      [
        401,
        '`device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` (unknown or revoked device, ' +
          'expired previous secret, wrong signature) or `nonce_replayed`; once the signature verifies, ' +
          '`device_disabled`, `credential_expired` or `ip_not_allowed` (outside allowedCidrs)',
      ],
      [429, '`rate_limited`: 50 device requests from this client IP answered 401 within a minute'],
    ),
  );
}
