import { applyDecorators } from '@nestjs/common';
import { ApiResponse, getSchemaPath, type ResponseObject } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { defaultCodeFor, ErrorCode } from './error-codes';
import { ErrorResponseDto } from './error-response.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_failed`)',
  401: 'Missing or invalid credentials (`unauthorized`)',
  403: 'The device belongs to another user (`forbidden`)',
  404: 'No such device (`device_not_found`)',
  409: 'Conflict with the current state (`conflict`)',
  413: 'Request body too large (`payload_too_large`)',
  415: 'A body that is not application/json (`unsupported_media_type`)',
  429: 'Rate limited (`rate_limited`); retry after `Retry-After` seconds',
  408: 'The request did not arrive within REQUEST_TIMEOUT_MS (`request_timeout`)',
  431: 'Request headers too large (`headers_too_large`)',
  503:
    'The database did not answer in time (`service_unavailable`); retry after `Retry-After` seconds. ' +
    'Never a 401 or a 500 for that: a valid token stays valid.',
};

/** What `message` says for each code, for the examples. */
const EXAMPLE_MESSAGES: Partial<Record<ErrorCode, string | string[]>> = {
  [ErrorCode.ValidationFailed]: ['name must be 1 to 64 characters long'],
  [ErrorCode.WeakPassword]: 'password is too common; choose another',
  [ErrorCode.Unauthorized]: 'Unauthorized',
  [ErrorCode.InvalidCredentials]: 'Invalid e-mail or password',
  [ErrorCode.Forbidden]: 'Forbidden',
  [ErrorCode.DeviceNotFound]: 'Device not found',
  [ErrorCode.EmailTaken]: 'An account with this e-mail already exists',
  [ErrorCode.DeviceNameTaken]: 'You already have an active device with this name',
  [ErrorCode.DeviceRevoked]: 'The device is revoked',
  [ErrorCode.PayloadTooLarge]: 'Request body is too large',
  [ErrorCode.UnsupportedMediaType]: 'Unsupported content type; send application/json',
  [ErrorCode.RateLimited]: 'Too many requests, try again later',
  [ErrorCode.DeviceAuthMalformed]: 'X-Nonce is missing or malformed',
  [ErrorCode.InvalidSignature]: 'Signature verification failed',
  [ErrorCode.ServiceUnavailable]: 'Service Unavailable',
};

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * The codes a description names: every back-quoted snake_case word. The prose
 * a reader sees and the enum a client switches on come from the same text, so
 * they cannot drift apart; a word that is not an ErrorCode is a mistake.
 */
export function codesIn(description: string): ErrorCode[] {
  const words = [...description.matchAll(/`([a-z][a-z0-9]*(?:_[a-z0-9]+)*)`/g)].map((m) => m[1]);
  for (const word of words) {
    if (!KNOWN_CODES.has(word)) throw new Error(`"${word}" in "${description}" is no ErrorCode`);
  }
  return [...new Set(words)] as ErrorCode[];
}

/**
 * The contract's error body for one status, its `code` narrowed to the
 * values this response can carry (an enum that generated clients switch on).
 */
export function errorResponse(
  status: number,
  codes: readonly ErrorCode[],
  description: string,
): ResponseObject {
  return {
    description,
    content: {
      'application/json': {
        schema: {
          allOf: [
            { $ref: getSchemaPath(ErrorResponseDto) },
            {
              type: 'object',
              required: ['code'],
              properties: {
                statusCode: { type: 'integer', enum: [status] },
                code: { type: 'string', enum: [...codes] },
              },
            },
          ],
        },
        example: {
          statusCode: status,
          error: STATUS_CODES[status],
          message: EXAMPLE_MESSAGES[codes[0]] ?? STATUS_CODES[status],
          code: codes[0],
        },
      },
    },
  };
}

type ErrorStatus = number | [number, string];

/**
 * Documents the contract's error body for each listed status. A description
 * names the possible codes in back quotes; without a description the
 * status's usual one applies. Every route that reaches the database can
 * answer 503 `service_unavailable`, so it is documented on each unless listed.
 */
export function ApiErrors(...statuses: ErrorStatus[]) {
  const listed = statuses.map((s) => (Array.isArray(s) ? s[0] : s));
  return ApiErrorsWithoutDatabase(...(listed.includes(503) ? statuses : [...statuses, 503]));
}

/** ApiErrors for a route that never touches the database (no 503). */
export function ApiErrorsWithoutDatabase(...statuses: ErrorStatus[]) {
  return applyDecorators(
    ...statuses.map((s) => {
      const [status, description] = Array.isArray(s) ? s : [s, DESCRIPTIONS[s] ?? STATUS_CODES[s]!];
      const named = codesIn(description);
      const response = errorResponse(
        status,
        named.length > 0 ? named : [defaultCodeFor(status)],
        description,
      );
      const { schema, example } = response.content!['application/json'];
      return ApiResponse({ status, description, schema: schema!, example } as Parameters<
        typeof ApiResponse
      >[0]);
    }),
  );
}

/** One error response that also documents response headers (forward auth's X-Device-Auth-Error). */
export function ApiErrorWithHeaders(
  status: number,
  description: string,
  headers: Record<string, { description: string; schema: object }>,
) {
  const { schema, example } = errorResponse(status, codesIn(description), description).content![
    'application/json'
  ];
  return ApiResponse({ status, description, schema: schema!, example, headers } as Parameters<
    typeof ApiResponse
  >[0]);
}
