import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import type { DeviceRequestDescription } from './device-auth.service';

/** The two conventions proxies use to describe the original request. */
const METHOD_HEADERS = ['x-forwarded-method', 'x-original-method'] as const;
const TARGET_HEADERS = ['x-forwarded-uri', 'x-original-uri'] as const;
/** An HTTP method is a token (RFC 9110). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The one value a proxy gave for the original method or target. A proxy sets
 * one convention and passes the client's other headers through, so a second,
 * different value can only come from the client: refused, so that a client
 * cannot make the registry verify another request than the one proxied.
 */
function described(req: FastifyRequest, names: readonly string[], what: string): string {
  const values = names.flatMap((name) => {
    const v = req.headers[name];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  });
  if (values.length === 0 || values.some((v) => v === '')) {
    throw badRequest(
      ErrorCode.ValidationFailed,
      `${names.join(' or ')} must give the original ${what}`,
    );
  }
  if (new Set(values).size > 1) {
    throw badRequest(
      ErrorCode.ValidationFailed,
      `${names.join(' and ')} disagree about the original ${what}`,
    );
  }
  return values[0];
}

/**
 * The original device request a forward-auth call describes: method and
 * target from the proxy's headers, the body hash from the device's
 * X-Content-SHA256 (the proxy does not pass the body), the client as
 * TRUST_PROXY says. The verify call's own method, query and body play no part.
 */
export const ForwardedDeviceRequest = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): DeviceRequestDescription => {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const method = described(req, METHOD_HEADERS, 'method');
    if (!TOKEN.test(method)) {
      throw badRequest(ErrorCode.ValidationFailed, 'The original method is not an HTTP method');
    }
    return {
      method,
      target: described(req, TARGET_HEADERS, 'request target'),
      headers: req.headers,
      clientIp: req.ip,
    };
  },
);
