import type { LoggerService } from '@nestjs/common';
import {
  LogController,
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import type { AppConfig } from '../config/configuration';

// Logging is Fastify's own pino logger: Fastify gives each request a child
// logger bound to its request id and writes the one line per request
// (RequestLogController), and Nest's Logger writes through the same pino
// (PinoNestLogger). An Express-style logging middleware in front of every
// route cost half the throughput of a trivial route.

export type LogFormat = 'json' | 'pretty';

/** JSON lines, except for a person watching a development terminal; LOG_FORMAT decides when set. */
export function chooseLogFormat(
  configured: LogFormat | undefined,
  production: boolean,
  stdoutIsTerminal: boolean,
): LogFormat {
  return configured ?? (!production && stdoutIsTerminal ? 'pretty' : 'json');
}

/** pino-pretty, loaded only for pretty output: some 20 ms of every start otherwise. */
function prettyStream(): typeof PinoPretty {
  return (require('pino-pretty') as { default: typeof PinoPretty }).default;
}

/** The root logger. `destination` replaces standard output (the e2e suites read what was logged). */
export function createLogger(
  cfg: Pick<AppConfig, 'logLevel' | 'logFormat' | 'production'>,
  destination?: pino.DestinationStream,
): pino.Logger {
  const format = chooseLogFormat(cfg.logFormat, cfg.production, process.stdout.isTTY === true);
  const stream =
    format === 'pretty'
      ? // Coloured when the output is a terminal that takes colours.
        prettyStream()({
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          destination: destination ?? 1,
          sync: true,
        })
      : (destination ?? pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level: cfg.logLevel,
      serializers: { err: pino.stdSerializers.err },
      // Never headers (Authorization, X-Signature) nor bodies (passwords, secrets).
      redact: {
        paths: ['req.headers', 'req.body', 'password', 'secret', '*.password', '*.secret'],
        remove: true,
      },
    },
    stream,
  );
}

export const REQUEST_ID_HEADER = 'x-request-id';
/** An incoming X-Request-Id is kept when it looks like an id (a UUID, a trace id, a ULID…). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's `genReqId`: the caller's X-Request-Id when it is sane, else a new UUID. */
export function requestIdOf(req: Pick<IncomingMessage, 'headers'>): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** Probes and scrapes are not worth a line each (told by route: a query string changes nothing). */
const UNLOGGED = new Set<string | undefined>(['/health/live', '/health/ready', '/metrics']);

/** `route` is the matched route's path (`undefined` when none matched). */
type Completed = (request: FastifyRequest, reply: FastifyReply, route: string | undefined) => void;

/**
 * What happens once a request is answered: Fastify's own request logging, one
 * line per request (method, URL, status and duration; the request id is
 * bound to every line of the request as `reqId`), and whatever `onCompleted`
 * adds (configureApp records the request's duration there). Fastify calls
 * `requestCompleted` for every answer, so the duration needs no onResponse
 * hook, whose turn cost about 2 µs a request. At a level above `info` the
 * line costs a no-op call.
 */
export class RequestLogController extends LogController {
  onCompleted: Completed = () => {};

  constructor() {
    super({ disableRequestLogging: (request) => UNLOGGED.has(request.routeOptions.url) });
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    // Fastify's routeOptions is a getter that builds a new object: read once.
    const route = request.routeOptions.url;
    this.onCompleted(request, reply, route);
    if (UNLOGGED.has(route)) return;
    const line = {
      req: { method: request.method, url: request.url },
      res: { statusCode: reply.statusCode },
      responseTime: Math.round(reply.elapsedTime),
    };
    if (error) request.log.error({ ...line, err: error }, 'request errored');
    else request.log.info(line, 'request completed');
  }
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A request's logger, bound to its request id, whose pino child is made only
 * when it first writes a line: most requests write none (probes, and every
 * request above `info`), and making a pino child for each cost about a
 * twentieth of the CPU time of `GET /health/live`.
 */
class RequestChildLogger implements FastifyBaseLogger {
  private made?: FastifyBaseLogger;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: pino.Bindings,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  get level(): pino.LevelWithSilentOrString {
    return (this.made ?? this.parent).level;
  }
  set level(level: pino.LevelWithSilentOrString) {
    this.logger.level = level;
  }

  private write(level: Level, args: unknown[]): void {
    if (this.made || (this.parent as pino.Logger).isLevelEnabled(level)) {
      (this.logger[level] as (...a: unknown[]) => void)(...args);
    }
  }

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  silent(): void {}

  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: each request's logger, made on its first line. */
export function requestChildLogger(
  logger: FastifyBaseLogger,
  bindings: pino.Bindings,
  options: pino.ChildLoggerOptions,
): FastifyBaseLogger {
  // A route's own level or serializers: a child at once, as Fastify would.
  if (options.level !== undefined || options.serializers !== undefined) {
    return logger.child(bindings, options);
  }
  return new RequestChildLogger(logger, bindings);
}

/**
 * Nest's Logger on a pino logger: the root one, or a request's (whose lines
 * carry its request id; see `requestLogger`). Nest calls `method(message,
 * ...params)`, the last param being the context (the name given to `new
 * Logger(name)`); `error` may carry a stack before it.
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly root: FastifyBaseLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const log = this.root;
    const fields: Record<string, unknown> = {};
    const rest = [...params];
    const last = rest.at(-1);
    if (typeof last === 'string' && !last.includes('\n')) fields.context = rest.pop();
    if (typeof rest[0] === 'string' && rest[0].includes('\n')) fields.stack = rest.shift();
    if (message instanceof Error) {
      log[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      log[level]({ ...fields, ...message });
    } else {
      log[level](fields, String(message));
    }
  }
}

/**
 * A Nest-style logger for the lines written while handling one request: they
 * go to the request's pino logger, so they carry its request id. Passed
 * explicitly rather than found through AsyncLocalStorage, whose promise hooks
 * cost every request on Node 20 about a tenth of its CPU time (measured on
 * signed GET /device/me and /auth/me).
 */
export function requestLogger(
  log: FastifyBaseLogger,
  context: string,
): Pick<LoggerService, 'warn' | 'error'> {
  const nest = new PinoNestLogger(log);
  return {
    warn: (message: unknown) => nest.warn(message, context),
    error: (message: unknown) => nest.error(message, context),
  };
}
