import { INestApplication, RequestMethod, ValidationError, ValidationPipe } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { badRequest } from './common/api-error';
import { registerBodyParsers } from './common/body-parsers';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { ErrorCode } from './common/error-codes';
import { appConfig } from './config/configuration';
import { MetricsService } from './observability/metrics.service';
import { buildOpenApiDocument } from './openapi/openapi';
import { setupDocs } from './openapi/swagger-ui';

export const API_PREFIX = 'api/v1';
export const OWNER_BODY_LIMIT = 16 * 1024;
export const DEVICE_BODY_LIMIT = 4 * 1024;
const DEVICE_ROUTES = `/${API_PREFIX}/device/`;
const isDeviceRoute = (url: string) => url.startsWith(DEVICE_ROUTES);

/** Options of NestFactory.create / createNestApplication: our own body parsers replace Nest's. */
export const APP_OPTIONS = { bodyParser: false, bufferLogs: true } as const;

/**
 * The Fastify adapter, shared by main.ts and the e2e suites so both run the
 * same HTTP stack. Bodies are JSON, limited to 16 KiB (4 KiB on device routes).
 */
export function createAdapter(): FastifyAdapter {
  const cfg = appConfig();
  const adapter = new FastifyAdapter({ bodyLimit: OWNER_BODY_LIMIT, trustProxy: cfg.trustProxy });
  const fastify = adapter.getInstance();
  fastify.addHook('onRoute', (route) => {
    if (isDeviceRoute(route.url)) route.bodyLimit = DEVICE_BODY_LIMIT;
  });
  registerBodyParsers(fastify, isDeviceRoute);
  return adapter;
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
  app.useLogger(app.get(Logger));
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

  const metrics = app.get(MetricsService);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: reply.statusCode,
        },
        reply.elapsedTime / 1000,
      );
      done();
    });

  setupDocs(app, () => buildOpenApiDocument(app));
}
