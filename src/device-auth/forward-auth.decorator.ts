import { applyDecorators } from '@nestjs/common';
import {
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';
import { ErrorResponseDto } from '../common/error-response.dto';
import { DEVICE_AUTH_FAILURES_PER_MINUTE } from './device-auth.service';
import { DEVICE_SIGNATURE_SCHEME } from './device-auth.decorator';
import { DeviceRoute } from './device-route';
import { DeviceSelfDto } from './dto/device-self.dto';

const AUTH_ERROR_HEADER_DOC = {
  'X-Device-Auth-Error': {
    description:
      'The same error body as JSON, for proxies that drop the body of an auth answer (nginx auth_request)',
    schema: { type: 'string' },
  },
};

/**
 * One method of the forward-auth endpoint: public (the device signature is
 * checked inside), a device route (4 KiB, body errors never answered: the
 * body is ignored), and its OpenAPI description.
 */
export function ForwardAuthRoute(method: string) {
  return applyDecorators(
    Public(),
    DeviceRoute(),
    ApiTags('device-auth'),
    ApiSecurity(DEVICE_SIGNATURE_SCHEME),
    ApiOperation({
      summary: `Verify a device request for your own API (forward auth, ${method})`,
      description:
        'Called by a reverse proxy (nginx `auth_request`, Traefik `forwardAuth`, Caddy `forward_auth`, ' +
        'Envoy `ext_authz`) before it passes a device request to your API. The original request is described ' +
        'by `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik, Caddy) or `X-Original-Method`/`X-Original-URI` ' +
        '(nginx), the device headers passed through, and `X-Content-SHA256` for a request with a body. The ' +
        'method, query string and body of this call itself are ignored. Success burns the nonce and updates ' +
        '`lastSeenAt`. Failures are counted per original client IP (`X-Forwarded-For` as `TRUST_PROXY` says).',
    }),
    ApiHeader({
      name: 'X-Forwarded-Method',
      required: false,
      description: 'Method of the original request (Traefik, Caddy); or X-Original-Method',
    }),
    ApiHeader({
      name: 'X-Original-Method',
      required: false,
      description: 'Method of the original request (nginx); or X-Forwarded-Method',
    }),
    ApiHeader({
      name: 'X-Forwarded-Uri',
      required: false,
      description:
        'Target (path and query) of the original request as sent (Traefik, Caddy); or X-Original-URI',
    }),
    ApiHeader({
      name: 'X-Original-URI',
      required: false,
      description:
        'Target (path and query) of the original request as sent (nginx); or X-Forwarded-Uri',
    }),
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
        'Lower-case hex SHA-256 of the original body, sent by the device; absent: the empty body. ' +
        'Your API must check it against the body it reads.',
    }),
    ApiOkResponse({
      type: DeviceSelfDto,
      description:
        'The signature is good: the device, and headers for the proxy to copy to your API',
      headers: {
        'X-Device-Id': { description: 'The device id', schema: { type: 'string', format: 'uuid' } },
        'X-Device-Owner-Id': {
          description: 'The id of the device owner',
          schema: { type: 'string', format: 'uuid' },
        },
        'X-Device-Name': {
          description: 'The device name, percent-encoded UTF-8',
          schema: { type: 'string' },
        },
      },
    }),
    ApiErrors(
      [
        400,
        '`validation_failed`: no original method or target header, or the two conventions disagree',
      ],
      [413, '`payload_too_large`: a body over 4 KiB sent to this endpoint (proxies send none)'],
    ),
    ApiResponse({
      status: 401,
      type: ErrorResponseDto,
      headers: AUTH_ERROR_HEADER_DOC,
      description:
        '`device_auth_malformed` (also a malformed X-Content-SHA256), `timestamp_out_of_range`, ' +
        '`invalid_signature` or `nonce_replayed`',
    }),
    ApiResponse({
      status: 429,
      type: ErrorResponseDto,
      headers: {
        ...AUTH_ERROR_HEADER_DOC,
        'Retry-After': { description: 'Seconds', schema: { type: 'integer' } },
      },
      description: `\`rate_limited\`: ${DEVICE_AUTH_FAILURES_PER_MINUTE} verifications answered 401 in a minute for the original client IP`,
    }),
  );
}
