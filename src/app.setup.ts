import { INestApplication, RequestMethod, ValidationError, ValidationPipe } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { badRequest } from './common/api-error';
import { API_PREFIX } from './common/api-prefix';
import { registerBodyParsers } from './common/body-parsers';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { ErrorCode } from './common/error-codes';
import { clientErrorHandler, frameworkErrors, requireHost } from './common/low-level-errors';
import { securityHeadersFor } from './common/security-headers';
import { appConfig } from './config/configuration';
import { isDeviceRoute } from './device-auth/device-route';
import {
  createLogger,
  PinoNestLogger,
  REQUEST_ID_HEADER,
  requestChildLogger,
  RequestLogController,
  requestIdOf,
} from './observability/logging';
import { MetricsService } from './observability/metrics.service';
import { buildOpenApiDocument } from './openapi/openapi';
import { setupDocs } from './openapi/swagger-ui';

export const OWNER_BODY_LIMIT = 16 * 1024;
export const DEVICE_BODY_LIMIT = 4 * 1024;

/** Options of NestFactory.create / createNestApplication: our own body parsers replace Nest's. */
export const APP_OPTIONS = { bodyParser: false, bufferLogs: true } as const;

/**
 * The Fastify adapter, shared by main.ts and the e2e suites so both run the
 * same HTTP stack. Bodies are JSON, limited to 16 KiB (4 KiB on device
 * routes). A device route is one marked by @DeviceAuth() (DeviceRoute) in its
 * Fastify route config, wherever it is mounted.
 * A request must arrive whole within REQUEST_TIMEOUT_MS (408) and a silent
 * socket is closed after CONNECTION_TIMEOUT_MS. Errors below the router
 * (malformed requests, oversized headers, bad URL encoding, a missing Host)
 * get the contract's error body too, and every answer the request id and the
 * security headers. Logs go to standard output, or to `logDestination` (the
 * e2e suites read them).
 */
export function createAdapter(
  options: { logDestination?: DestinationStream } = {},
): FastifyAdapter {
  const cfg = appConfig();
  const logController = new RequestLogController();
  const adapter = new FastifyAdapter({
    bodyLimit: OWNER_BODY_LIMIT,
    trustProxy: trustProxyOption(cfg.trustProxy),
    requestTimeout: cfg.requestTimeoutMs,
    connectionTimeout: cfg.connectionTimeoutMs,
    http: {
      // Node checks request timeouts on this interval (default 30 s, which
      // would let a stalled request live up to 30 s past REQUEST_TIMEOUT_MS).
      connectionsCheckingInterval: Math.min(1000, cfg.requestTimeoutMs),
      // Node's default (60 s) above requestTimeout stops requestTimeout from
      // being enforced once the headers are in: a trickled body would never end.
      headersTimeout: cfg.requestTimeoutMs,
      requireHostHeader: false,
    },
    clientErrorHandler,
    // Answered before the onRequest hook: stamp the request id and headers here.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      stamp(request, reply);
      frameworkErrors(error, request, reply);
    },
    loggerInstance: createLogger(cfg, options.logDestination),
    childLoggerFactory: requestChildLogger,
    logController,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // No Nest middleware here (Fastify hooks instead): without @fastify/middie
    // no request pays its turn, and a middleware added by mistake fails the start.
    skipMiddie: true,
  });
  const fastify = adapter.getInstance();
  // One hook rather than one per concern: each costs a turn of Fastify's hook runner.
  fastify.addHook('onRequest', (request, reply, done) => {
    stamp(request, reply);
    requireHost(request, reply, done);
  });
  fastify.addHook('onRoute', (route) => {
    if (isDeviceRoute(route.config)) route.bodyLimit = DEVICE_BODY_LIMIT;
  });
  // Parsers run after routing, so the matched route's config is known.
  registerBodyParsers(fastify, (req) => isDeviceRoute(req.routeOptions.config));
  logControllers.set(adapter, logController);
  return adapter;
}

/** Each adapter's log controller, for configureApp to hand the app's metrics to. */
const logControllers = new WeakMap<object, RequestLogController>();

/** What every answer carries, errors included: the request id and the security headers. */
function stamp(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header(REQUEST_ID_HEADER, request.id).headers(securityHeadersFor(request.url));
}

/**
 * TRUST_PROXY as Fastify's `trustProxy`: a list of proxies as it is; a hop
 * count as a function trusting that many hops from the socket inwards
 * (proxy-addr's meaning of a number: Fastify itself now refuses a bare
 * number). Never `true`, which would make the left-most X-Forwarded-For
 * entry, written by the client, the client IP.
 */
export function trustProxyOption(
  value: number | string[] | false,
): string[] | false | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

function flattenErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => (parent ? `${path}: ${m}` : m));
    return [...own, ...flattenErrors(e.children ?? [], path)];
  });
}

/** /api/v1 on every route but the operational ones; the OpenAPI generator needs it too. */
export function setRoutePrefix(app: INestApplication): void {
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: 'health/live', method: RequestMethod.GET },
      { path: 'health/ready', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
    ],
  });
}

/** Global pipes, filters, hooks and the OpenAPI document; call before `init()`/`listen()`. */
export function configureApp(app: NestFastifyApplication): void {
  const cfg = appConfig();
  app.useLogger(new PinoNestLogger(app.getHttpAdapter().getInstance().log));
  setRoutePrefix(app);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) => badRequest(ErrorCode.ValidationFailed, flattenErrors(errors)),
    }),
  );
  app.useGlobalFilters(new AllExceptionsFilter());
  if (cfg.corsOrigins.length > 0) app.enableCors({ origin: cfg.corsOrigins });

  const { httpDuration } = app.get(MetricsService);
  const logController = logControllers.get(app.getHttpAdapter());
  if (!logController) throw new Error('configureApp needs an app made with createAdapter()');
  logController.onCompleted = (request, reply, route) =>
    httpDuration.observe(
      request.method,
      route ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );

  setupDocs(app, () => buildOpenApiDocument(app));
}
