// npm run secrets:reseal — after moving DEVICE_SECRET_KEK to DEVICE_SECRET_KEK_PREVIOUS
// and setting a new DEVICE_SECRET_KEK, re-seal every device secret under the new key.
// With the embedded database, stop the service first (PGlite has one process).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { SecretsResealService } from '../devices/secrets-reseal.service';

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const count = await app.get(SecretsResealService).resealAll();
    process.stdout.write(
      `Re-sealed ${count} device secret(s) under the current DEVICE_SECRET_KEK.\n`,
    );
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
