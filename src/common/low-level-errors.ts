import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody } from './all-exceptions.filter';
import { ErrorCode } from './error-codes';
import { API_SECURITY_HEADERS } from './security-headers';

// No request was parsed, so no id came with it: the answer gets a new one.
const STATIC_HEADERS = Object.entries(API_SECURITY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/**
 * Errors answered below Nest's router, in the contract's body all the same:
 * requests Node's HTTP parser refuses (garbage, headers over 16 KiB, a body
 * that does not arrive within REQUEST_TIMEOUT_MS) and URLs Fastify's router
 * cannot decode.
 */

/** Fastify's `clientErrorHandler`: Node's `clientError` event of the HTTP server. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let body;
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      body = errorBody(408, 'The request did not arrive in time', ErrorCode.RequestTimeout);
      break;
    case 'HPE_HEADER_OVERFLOW':
      body = errorBody(431, 'Request headers are too large', ErrorCode.HeadersTooLarge);
      break;
    default:
      body = errorBody(400, 'Malformed HTTP request', ErrorCode.ValidationFailed);
  }
  if (socket.writable) {
    const json = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${STATUS_CODES[body.statusCode]}\r\n` +
        'Connection: close\r\n' +
        `X-Request-Id: ${randomUUID()}\r\n` +
        STATIC_HEADERS +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

/** Fastify's `frameworkErrors`: a URL that cannot be decoded, a too-long path parameter. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (
  error,
  _request,
  reply,
) => {
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'The URL is not validly percent-encoded'
      : 'The request URL is invalid';
  void (reply as unknown as FastifyReply)
    .code(400)
    .send(errorBody(400, message, ErrorCode.ValidationFailed));
};

/**
 * HTTP/1.1 requires a Host header. Node would answer its absence with an empty
 * 400; the server lets it through (`requireHostHeader: false`) and this
 * onRequest hook answers it in the contract's body.
 */
export function requireHost(
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  if (request.raw.httpVersion === '1.1' && !request.headers.host) {
    void reply
      .code(400)
      .header('Connection', 'close')
      .send(errorBody(400, 'The Host header is required', ErrorCode.ValidationFailed));
    return;
  }
  done();
}
