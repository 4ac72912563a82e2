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
  503: 'Not ready',
};

/** Documents the contract's error body for each listed status. */
export function ApiErrors(...statuses: (number | [number, string])[]) {
  return applyDecorators(
    ...statuses.map((s) => {
      const [status, description] = Array.isArray(s) ? s : [s, DESCRIPTIONS[s] ?? STATUS_CODES[s]];
      return ApiResponse({ status, description, type: ErrorResponseDto });
    }),
  );
}
