import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './api-error';
import { ErrorCode } from './error-codes';

/**
 * A body that could not be parsed on a route that authenticates before it
 * looks at the body (device routes): the guard answers 401 first, and only an
 * authenticated request learns that its body was bad.
 */
export class UnparsedBody {
  constructor(readonly error: ApiError) {}
}

const invalidJson = () =>
  new ApiError(400, ErrorCode.ValidationFailed, 'Request body is not valid JSON');
const notAnObject = () =>
  new ApiError(400, ErrorCode.ValidationFailed, 'Request body must be a JSON object');
const unsupported = () =>
  new ApiError(
    415,
    ErrorCode.UnsupportedMediaType,
    'Unsupported content type; send application/json',
  );

/**
 * JSON object bodies only, each kept as raw bytes on `request.rawBody`
 * (device signatures cover the exact bytes). Body size limits are Fastify's,
 * per route. `deferErrors` tells, from the matched route, whether a body
 * error waits for authentication (an UnparsedBody) or is answered at once.
 */
export function registerBodyParsers(
  fastify: FastifyInstance,
  deferErrors: (req: FastifyRequest) => boolean,
): void {
  const fail = (
    req: FastifyRequest,
    error: ApiError,
    done: (e: Error | null, body?: unknown) => void,
  ) => (deferErrors(req) ? done(null, new UnparsedBody(error)) : done(error));

  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    // application/json and application/*+json, with or without parameters (charset=utf-8).
    /^application\/([\w.+-]+\+)?json\s*(;|$)/i,
    { parseAs: 'buffer' },
    (req, raw: Buffer, done) => {
      (req as FastifyRequest & { rawBody?: Buffer }).rawBody = raw;
      if (raw.length === 0) return done(null, undefined);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return fail(req, invalidJson(), done);
      }
      // Every body of this API is an object; arrays, strings and null are not.
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return fail(req, notAnObject(), done);
      done(null, body);
    },
  );
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (req, raw: Buffer, done) => {
    (req as FastifyRequest & { rawBody?: Buffer }).rawBody = raw;
    fail(req, unsupported(), done);
  });
}
