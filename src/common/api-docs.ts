import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';
import { ErrorResponseDto } from './error-response.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (`validation_failed`)',
  401: 'Missing or invalid credentials (`unauthorized`)',
  403: 'The device belongs to another user (`forbidden`)',
  404: 'No such device (`device_not_found`)',
  409: 'Conflict with the current state',
  413: 'Request body too large (`payload_too_large`)',
  429: 'Rate limited (`rate_limited`); see `Retry-After`',
  408: 'The request did not arrive within REQUEST_TIMEOUT_MS (`request_timeout`)',
  431: 'Request headers too large (`headers_too_large`)',
  503:
    'The database did not answer in time (`service_unavailable`); see `Retry-After`. ' +
    'Never a 401 or a 500 for that: a valid token stays valid.',
};

/**
 * Documents the contract's error body for each listed status. Every route
 * that reaches the database can answer 503 `service_unavailable`, so it is
 * documented on each unless listed.
 */
export function ApiErrors(...statuses: (number | [number, string])[]) {
  const listed = statuses.map((s) => (Array.isArray(s) ? s[0] : s));
  const all = listed.includes(503) ? statuses : [...statuses, 503];
  return applyDecorators(
    ...all.map((s) => {
      const [status, description] = Array.isArray(s) ? s : [s, DESCRIPTIONS[s] ?? STATUS_CODES[s]];
      return ApiResponse({ status, description, type: ErrorResponseDto });
    }),
  );
}
