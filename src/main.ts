import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { APP_OPTIONS, configureApp, createAdapter } from './app.setup';
import { appConfig, threadpoolSize } from './config/configuration';
import { ConfigError } from './config/env';
import { BootstrapLogger } from './observability/bootstrap-logger';
import { keepTickObjectShape } from './tick-object-shape';
import { setServiceV8Flags } from './v8-flags';

// Before anything uses libuv's threadpool, which sizes itself once.
const poolSize = threadpoolSize(process.env);
if (poolSize) process.env.UV_THREADPOOL_SIZE = poolSize;

setServiceV8Flags();
keepTickObjectShape();

const bootLogger = new BootstrapLogger();

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createAdapter(), {
    ...APP_OPTIONS,
    // Start-up lines (each database connection attempt among them) are written
    // as they happen, as pino JSON, until configureApp() attaches the
    // application's logger; a failed start is logged and exits 1 (no abort).
    bufferLogs: false,
    logger: bootLogger,
    abortOnError: false,
  });
  configureApp(app);
  // On SIGTERM/SIGINT: stop accepting requests, flush lastSeenAt, close the
  // database (the embedded one included), then exit 0.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen(appConfig().port, '0.0.0.0');
}

/**
 * Starts the service; resolves once it listens. A failed start is logged and
 * ends the process with 1. The bundle's launcher (src/launcher.ts) calls it;
 * run directly (`nest start`), this file calls it itself.
 */
export function start(): Promise<void> {
  return bootstrap().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ConfigError) {
      // A configuration error names its variable; LOG_LEVEL itself may be the wrong one.
      process.stderr.write(`${message}\n`);
    } else {
      bootLogger.fatal(`Start-up failed: ${message}`, 'Bootstrap');
      process.stderr.write(`Start-up failed: ${message}\n`);
    }
    process.exit(1);
  });
}

if (require.main === module) void start();
