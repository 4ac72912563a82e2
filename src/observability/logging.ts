import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { appConfig, AppConfig } from '../config/configuration';

/** Where log lines go; tests replace it to read what the service logged. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * pino through nestjs-pino. Requests are logged (at info) by method, URL,
 * status and duration only: never headers (Authorization, X-Signature) or
 * bodies (passwords, secrets). Above info no request is logged, so the
 * per-request logging middleware is not installed at all: it halves the
 * throughput of a trivial route.
 */
export const LoggingModule = LoggerModule.forRootAsync({
  providers: [
    { provide: LOG_DESTINATION, useFactory: () => pino.destination({ dest: 1, sync: false }) },
  ],
  inject: [appConfig.KEY, LOG_DESTINATION],
  useFactory: (cfg: AppConfig, destination: pino.DestinationStream) => ({
    forRoutes: pino.levels.values[cfg.logLevel] > pino.levels.values.info ? [] : undefined,
    pinoHttp: [
      {
        level: cfg.logLevel,
        // Probes and scrapes are not worth a line each. (Behind Nest's middleware
        // layer req.url is relative to the mount point; originalUrl is the target.)
        autoLogging: {
          ignore: (req) =>
            ['/health/live', '/health/ready', '/metrics'].includes(
              ((req as { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0],
            ),
        },
        quietReqLogger: true,
        serializers: {
          req: (req: { id: unknown; method: string; url: string }) => ({
            id: req.id,
            method: req.method,
            url: req.url,
          }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          err: pino.stdSerializers.err,
        },
        redact: {
          paths: ['req.headers', 'req.body', 'password', 'secret', '*.password', '*.secret'],
          remove: true,
        },
      },
      destination,
    ],
  }),
});
