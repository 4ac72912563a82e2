import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { appConfig, AppConfig } from '../config/configuration';

/** Where log lines go; tests replace it to read what the service logged. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * pino through nestjs-pino. Requests are logged by method, URL, status and
 * duration only: never headers (Authorization, X-Signature) or bodies
 * (passwords, secrets).
 */
export const LoggingModule = LoggerModule.forRootAsync({
  providers: [
    { provide: LOG_DESTINATION, useFactory: () => pino.destination({ dest: 1, sync: false }) },
  ],
  inject: [appConfig.KEY, LOG_DESTINATION],
  useFactory: (cfg: AppConfig, destination: pino.DestinationStream) => ({
    pinoHttp: [
      {
        level: cfg.logLevel,
        autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
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
