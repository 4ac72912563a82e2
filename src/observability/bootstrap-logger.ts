import pino from 'pino';
import type { AppConfig } from '../config/configuration';
import { createLogger, PinoNestLogger } from './logging';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const FORMATS = ['json', 'pretty'] as const;

function lenient<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  const wanted = value?.trim() as T | undefined;
  return wanted && allowed.includes(wanted) ? wanted : undefined;
}

/**
 * The logger of the start-up, before the application's own replaces it: the
 * same lines on stdout at LOG_LEVEL, in the same LOG_FORMAT, written at once
 * (synchronously), so a start that waits on the database says so as it
 * happens, and a start that fails leaves its reason in the log. LOG_LEVEL and
 * LOG_FORMAT are read leniently here; the configuration proper rejects a wrong
 * value.
 */
export class BootstrapLogger extends PinoNestLogger {
  constructor(env: NodeJS.ProcessEnv = process.env, destination?: pino.DestinationStream) {
    const cfg: Pick<AppConfig, 'logLevel' | 'logFormat' | 'production'> = {
      logLevel: lenient(env.LOG_LEVEL, LEVELS) ?? 'info',
      logFormat: lenient(env.LOG_FORMAT, FORMATS),
      production: env.NODE_ENV === 'production',
    };
    super(createLogger(cfg, destination ?? pino.destination({ dest: 1, sync: true })));
  }
}
