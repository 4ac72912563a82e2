import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';
import { SCOPE_PATTERN } from '../devices/dto/device-policy';
import { DEVICE_AUTH_FAILURES_PER_MINUTE } from './device-auth.service';
import { DeviceRoute } from './device-route';
import { DEVICE_SCOPES, DeviceSignatureGuard } from './device-signature.guard';

export const DEVICE_SIGNATURE_SCHEME = 'deviceSignature';

/** The 401 codes of every device request: the signature's, then the credential policy's. */
export const DEVICE_AUTH_401_CODES =
  '`device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` (unknown or revoked device, ' +
  "expired previous secret, wrong signature, X-Content-SHA256 not the body's), `nonce_replayed`; " +
  'then, for a verified signature, `device_disabled`, `credential_expired` or `ip_not_allowed` ' +
  '(client IP outside the allowedCidrs)';

export const DEVICE_SIGNATURE_DESCRIPTION = [
  'Device requests carry these headers (they belong to this scheme, so they are not listed as parameters):',
  '`X-Device-Id` (the device id), `X-Timestamp` (Unix seconds), `X-Nonce` (16–128 characters of',
  '`[A-Za-z0-9_-]`, fresh for every request), `X-Content-SHA256` (lower-case hex SHA-256 of the body; optional',
  "on the registry's own routes, where it must then match the body) and `X-Signature`: standard base64 of",
  'HMAC-SHA256 keyed with the UTF-8 bytes of the device secret (including `dvs_`) over six lines joined by `\\n`:',
  'METHOD, the request target as sent (path and query), X-Timestamp, X-Nonce, X-Device-Id, and the',
  'lower-case hex SHA-256 of the raw body (of the empty string without a body).',
  'Failures are 401 with code `device_auth_malformed`, `timestamp_out_of_range`, `invalid_signature` or',
  '`nonce_replayed`; once the signature verifies, the credential policy answers 401 `device_disabled`,',
  '`credential_expired` or `ip_not_allowed`, and 403 `insufficient_scope` on a route needing a scope the',
  'device lacks. After 50 answers of 401 in a minute for one client IP, device requests from it',
  'are 429 `rate_limited` until the minute has passed.',
].join(' ');

export interface DeviceAuthOptions {
  /** Scopes the device must hold to call the route (e.g. `orders:write`); none by default. */
  scopes?: string[];
}

/**
 * Protects a route with device authentication instead of the owner JWT; the
 * handler receives the device through @CurrentDevice(). Any module that
 * imports DeviceAuthModule can use it. The route becomes a device route
 * (DeviceRoute): 4 KiB body limit, authentication before body errors.
 * `scopes`: a device lacking one of them gets 403 insufficient_scope.
 */
export function DeviceAuth(options: DeviceAuthOptions = {}) {
  const scopes = [...new Set(options.scopes ?? [])];
  // A typo here would make the route unreachable for every device: refuse it
  // when the module loads, not at the first request.
  const bad = scopes.filter((scope) => !SCOPE_PATTERN.test(scope));
  if (bad.length > 0) {
    throw new Error(`@DeviceAuth(): scopes must match ${SCOPE_PATTERN.source}: ${bad.join(', ')}`);
  }
  return applyDecorators(
    Public(),
    DeviceRoute(),
    SetMetadata(DEVICE_SCOPES, scopes),
    UseGuards(DeviceSignatureGuard),
    ApiSecurity(DEVICE_SIGNATURE_SCHEME),
    ApiErrors(
      [401, DEVICE_AUTH_401_CODES],
      ...(scopes.length > 0
        ? [
            [
              403,
              `\`insufficient_scope\`: the device lacks one of the scopes this route needs: ${scopes.join(', ')}`,
            ] as [number, string],
          ]
        : []),
      [
        429,
        `\`rate_limited\`: ${DEVICE_AUTH_FAILURES_PER_MINUTE} device requests answered 401 in a minute for this client IP`,
      ],
    ),
  );
}
