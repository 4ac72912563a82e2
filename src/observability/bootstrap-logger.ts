import type { LoggerService } from '@nestjs/common';
import pino from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The logger of the start-up, before the application's own (nestjs-pino)
 * replaces it: the same pino JSON lines on stdout at LOG_LEVEL, written at
 * once (synchronously), so a start that waits on the database says so as it
 * happens, and a start that fails leaves its reason in the log. LOG_LEVEL is
 * read leniently here; the configuration proper rejects a wrong value.
 */
export class BootstrapLogger implements LoggerService {
  readonly pino: pino.Logger;

  constructor(env: NodeJS.ProcessEnv = process.env, destination?: pino.DestinationStream) {
    const wanted = env.LOG_LEVEL?.trim() ?? '';
    this.pino = pino(
      { level: LEVELS.includes(wanted) ? wanted : 'info' },
      destination ?? pino.destination({ dest: 1, sync: true }),
    );
  }

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

  /** Nest calls `(message, context)`, and `(message, stack, context)` for errors. */
  private write(level: pino.Level, message: unknown, params: unknown[]): void {
    const context = params.length > 0 ? params[params.length - 1] : undefined;
    const stack = level === 'error' && params.length > 1 ? params[0] : undefined;
    const fields: Record<string, unknown> = {};
    if (typeof context === 'string') fields.context = context;
    if (typeof stack === 'string') fields.stack = stack;
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else {
      this.pino[level](fields, typeof message === 'string' ? message : JSON.stringify(message));
    }
  }
}
