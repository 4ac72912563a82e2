import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
  LoggerService,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestLogger } from '../observability/logging';
import { ApiError } from './api-error';
import { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './database-errors';
import { defaultCodeFor, ErrorCode } from './error-codes';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  code: string;
}

/** Fastify's own errors (body parsing, body size, content type) carry these. */
interface FastifyError {
  statusCode?: number;
  code?: string;
  message?: string;
}

/**
 * Renders every error the same way: Nest's shape plus a stable `code`.
 * A 500 never shows its internals; it is logged (without the request body) instead.
 */
export function toErrorBody(
  exception: unknown,
  logger: Pick<LoggerService, 'warn' | 'error'>,
): { body: ErrorBody; headers: Record<string, string> } {
  let status = HttpStatus.INTERNAL_SERVER_ERROR;
  let message: string | string[] = 'Internal server error';
  let code: string | undefined;
  let headers: Record<string, string> = {};

  if (exception instanceof HttpException) {
    status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'string') {
      message = response;
    } else if (response && typeof response === 'object') {
      const r = response as { message?: string | string[]; code?: string };
      message = r.message ?? exception.message;
      code = r.code;
    }
    if (exception instanceof ApiError) headers = exception.headers;
  } else if (isFastifyClientError(exception)) {
    status = exception.statusCode!;
    message = fastifyMessage(exception);
    if (exception.code === 'FST_ERR_BAD_URL') code = ErrorCode.ValidationFailed;
  } else if (isDatabaseUnavailable(exception)) {
    status = HttpStatus.SERVICE_UNAVAILABLE;
    message = 'The database is not answering; try again shortly';
    code = ErrorCode.ServiceUnavailable;
    headers = { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) };
    logger.warn(`Database unavailable: ${describe(exception)}`);
    return { body: errorBody(status, message, code), headers };
  }

  // Every 503 says when to try again, readiness's "not ready" included.
  if (status === HttpStatus.SERVICE_UNAVAILABLE && !headers['Retry-After'])
    headers = { ...headers, 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) };
  if (status >= 500) {
    logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    if (status === HttpStatus.INTERNAL_SERVER_ERROR) message = 'Internal server error';
  }
  return { body: errorBody(status, message, code), headers };
}

export function errorBody(status: number, message: string | string[], code?: string): ErrorBody {
  return {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message,
    code: code ?? defaultCodeFor(status),
  };
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? `${e.message} (${code})` : e.message;
}

function isFastifyClientError(e: unknown): e is FastifyError {
  const s = (e as FastifyError | null)?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 500;
}

function fastifyMessage(e: FastifyError): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'Request body is not valid JSON';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'Request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported content type; send application/json';
    case 'FST_ERR_BAD_URL':
      return 'The URL is not validly percent-encoded';
    default:
      // Parser messages can quote the body; never echo them.
      return STATUS_CODES[e.statusCode!] ?? 'Bad request';
  }
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const log = http.getRequest<FastifyRequest | undefined>()?.log;
    const logger = log ? requestLogger(log, 'Exceptions') : this.logger;
    const { body, headers } = toErrorBody(exception, logger);
    void reply.headers(headers).status(body.statusCode).send(body);
  }
}
