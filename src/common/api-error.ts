import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorCode } from './error-codes';

/**
 * The exception services throw: an HTTP status, a human message and the
 * stable contract code. The global filter renders it; `headers` (for example
 * Retry-After) are added to the response.
 */
export class ApiError extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: ErrorCode,
    message: string | string[],
    readonly headers: Record<string, string> = {},
  ) {
    super({ message, code }, status);
  }
}

export const badRequest = (code: ErrorCode, message: string | string[]) =>
  new ApiError(HttpStatus.BAD_REQUEST, code, message);
export const unauthorized = (code: ErrorCode, message: string) =>
  new ApiError(HttpStatus.UNAUTHORIZED, code, message);
export const deviceNotFound = () =>
  new ApiError(HttpStatus.NOT_FOUND, ErrorCode.DeviceNotFound, 'Device not found');
export const conflict = (code: ErrorCode, message: string) =>
  new ApiError(HttpStatus.CONFLICT, code, message);
export const tooManyRequests = (retryAfterSeconds: number) =>
  new ApiError(
    HttpStatus.TOO_MANY_REQUESTS,
    ErrorCode.RateLimited,
    'Too many requests, try again later',
    {
      'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
    },
  );
