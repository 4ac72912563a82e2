/**
 * The OpenAPI document: built from the controllers' decorators, then finished
 * by the rules that hold for every route (the errors an authentication scheme
 * or a request body brings, the headers every response carries), so a new
 * route gets them without repeating them. The same function serves
 * /docs-json and writes openapi.json (`npm run openapi`).
 */
import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  type OperationObject,
  type ResponseObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { codesIn, errorResponse } from '../common/api-docs';
import { ErrorResponseDto } from '../common/error-response.dto';
import {
  DEVICE_SIGNATURE_DESCRIPTION,
  DEVICE_SIGNATURE_SCHEME,
} from '../device-auth/device-auth.decorator';
import { METRICS_TOKEN_SCHEME } from '../observability/metrics.controller';

export const BEARER_SCHEME = 'bearer';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * The handler's name is the operationId (`registerDevice`, `listDevices`):
 * what a generated client calls the method. A route answering several
 * methods (Nest's `name_get`) becomes `nameGet`.
 */
export const operationId = (_controller: string, handler: string) => handler;
const camelCase = (id: string) => id.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function config() {
  return new DocumentBuilder()
    .setTitle('Device Registry')
    .setDescription(
      'Register the devices that act for you, receive each secret once, and let devices authenticate ' +
        'with HMAC-SHA256-signed requests. Every error has the body `{statusCode, error, message, code}` ' +
        'with a stable `code`; each error response lists the codes it can carry. Every response carries ' +
        '`X-Request-Id`, the id of the request in the service log. Whatever the route, a request HTTP refuses ' +
        'is answered 400 `validation_failed` (an HTTP/1.1 request without Host), 408 `request_timeout` or ' +
        '431 `headers_too_large`, with the same body.',
    )
    .setVersion('1.0.0')
    .setLicense('MIT', 'https://opensource.org/license/mit')
    .addServer('/', 'This service')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_SCHEME)
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'The value of METRICS_TOKEN; needed only when the service sets one.',
      },
      METRICS_TOKEN_SCHEME,
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Signature',
        description: DEVICE_SIGNATURE_DESCRIPTION,
      },
      DEVICE_SIGNATURE_SCHEME,
    )
    .build();
}

const HEADERS = {
  'X-Request-Id': {
    description: 'The id of this request in the service log; quote it when reporting a problem.',
    schema: { type: 'string' },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', minimum: 1 },
  },
} as const;

const headerRef = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** Adds an error response, or widens the codes of the one the route declares. */
function addError(op: OperationObject, status: number, description: string): void {
  const existing = op.responses[status] as ResponseObject | undefined;
  const codes = codesIn(description);
  if (!existing) {
    op.responses[status] = errorResponse(status, codes, description);
    return;
  }
  const schema = existing.content?.['application/json']?.schema as
    { allOf?: { properties?: { code?: { enum?: string[] } } }[] } | undefined;
  const declared = schema?.allOf?.[1]?.properties?.code;
  if (declared?.enum) declared.enum = [...new Set([...declared.enum, ...codes])];
}

/** The rules every route follows, applied to the decorators' document. */
export function finishDocument(doc: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      if (op.operationId) op.operationId = camelCase(op.operationId);
      // A route without a scheme is public (health, register, login): say so
      // rather than leave clients to guess.
      op.security ??= [];
      const schemes = (op.security ?? doc.security ?? []).flatMap((s) => Object.keys(s));
      if (schemes.includes(BEARER_SCHEME)) {
        addError(op, 401, 'Missing, malformed, expired or revoked access token (`unauthorized`)');
        // The guard looks the token's user up, so every owner route reaches the database.
        addError(
          op,
          503,
          '`service_unavailable`: the database did not answer in time (never a 401 for that)',
        );
        addError(
          op,
          429,
          '`rate_limited`: more than OWNER_REQUESTS_PER_MINUTE requests of this user in a minute',
        );
      }
      // The server reads no body of a GET or HEAD, so it cannot be too large.
      if (method === 'get' || method === 'head') delete op.responses['413'];
      if (op.requestBody) {
        addError(op, 400, '`validation_failed`: the body is not a JSON object or is invalid');
        addError(op, 413, '`payload_too_large`: a body over 16 KiB (4 KiB on device routes)');
        addError(op, 415, '`unsupported_media_type`: a body that is not application/json');
      }
      for (const [status, response] of Object.entries(op.responses) as [string, ResponseObject][]) {
        response.headers = { ...response.headers, 'X-Request-Id': headerRef('X-Request-Id') };
        if (status === '429' || status === '503')
          response.headers['Retry-After'] = headerRef('Retry-After');
      }
      op.responses = Object.fromEntries(
        Object.entries(op.responses).sort(([a], [b]) => a.localeCompare(b)),
      );
    }
  }
  doc.components = { ...doc.components, headers: HEADERS };
  return doc;
}

/** Needs only the route metadata: works on an application created with `preview: true`. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const doc = SwaggerModule.createDocument(app, config(), {
    operationIdFactory: operationId,
    extraModels: [ErrorResponseDto],
  });
  return finishDocument(doc);
}

/** The document as committed in openapi.json. */
export const serialiseDocument = (doc: OpenAPIObject) => `${JSON.stringify(doc, null, 2)}\n`;
