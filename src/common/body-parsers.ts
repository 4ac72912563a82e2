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
const tooDeep = () =>
  new ApiError(
    400,
    ErrorCode.ValidationFailed,
    `Request body is nested deeper than ${MAX_JSON_DEPTH} levels`,
  );
const forbiddenKey = (key: string) =>
  new ApiError(400, ErrorCode.ValidationFailed, `property ${key} should not exist`);
const unsupported = () =>
  new ApiError(
    415,
    ErrorCode.UnsupportedMediaType,
    'Unsupported content type; send application/json',
  );

/** Deepest nesting of objects and arrays a body may have (the body itself is level 1). */
export const MAX_JSON_DEPTH = 32;

/** Keys that would reach prototypes; no body of this API has them, at any depth. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Whether JSON text nests objects/arrays deeper than `max`: one pass over the
 * text counting brackets outside strings, before JSON.parse sees it (which,
 * like class-transformer after it, recurses once per level).
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

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
      const text = raw.toString('utf8');
      if (nestedDeeperThan(text, MAX_JSON_DEPTH)) return fail(req, tooDeep(), done);
      let body: unknown;
      let badKey: string | undefined;
      try {
        body = JSON.parse(text, (key, value: unknown) => {
          if (FORBIDDEN_KEYS.has(key)) badKey ??= key;
          return value;
        });
      } catch {
        return fail(req, invalidJson(), done);
      }
      if (badKey !== undefined) return fail(req, forbiddenKey(badKey), done);
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
