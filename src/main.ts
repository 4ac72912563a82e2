import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { APP_OPTIONS, configureApp, createAdapter } from './app.setup';
import { appConfig } from './config/configuration';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule,
    createAdapter(),
    APP_OPTIONS,
  );
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

bootstrap().catch((error: unknown) => {
  // The logger may not exist yet; a configuration error names its variable.
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
