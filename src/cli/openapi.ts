// npm run openapi — writes openapi.json at the repository root from the
// controllers' metadata. `npm run openapi -- --check` writes nothing and fails
// when the committed file differs from a fresh generation (CI runs it). Both
// also cover the TypeScript client's types generated from it.
// Nest's preview mode resolves the modules without instantiating a provider:
// no database, no configuration secrets, no listening socket.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { AppModule } from '../app.module';
import { setRoutePrefix } from '../app.setup';
import { buildOpenApiDocument, serialiseDocument } from '../openapi/openapi';

// npm runs scripts at the package root.
const OPENAPI_FILE = resolve(process.cwd(), 'openapi.json');

/** The document exactly as openapi.json holds it. */
export async function generateOpenApi(): Promise<string> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
    preview: true,
    logger: ['error'],
  });
  try {
    setRoutePrefix(app);
    return serialiseDocument(buildOpenApiDocument(app));
  } finally {
    await app.close();
  }
}

/**
 * The TypeScript client's types, generated from openapi.json by
 * openapi-typescript (its own CLI: an ES module, in the client's workspace).
 * With `check`, fails when they are not what it would generate.
 */
export function generateClientTypes(check: boolean): void {
  const clientDir = resolve(process.cwd(), 'clients/typescript');
  const cli = resolve(
    dirname(require.resolve('openapi-typescript/package.json', { paths: [clientDir] })),
    'bin/cli.js',
  );
  const args = [cli, '../../openapi.json', '--output', 'src/schema.d.ts'];
  const run = spawnSync(process.execPath, check ? [...args, '--check'] : args, {
    cwd: clientDir,
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new Error(
      check
        ? 'clients/typescript/src/schema.d.ts is out of date: run `npm run openapi` and commit it.'
        : `openapi-typescript failed: ${run.stderr}`,
    );
  }
}

async function main(): Promise<void> {
  const fresh = await generateOpenApi();
  if (!process.argv.includes('--check')) {
    writeFileSync(OPENAPI_FILE, fresh);
    generateClientTypes(false);
    process.stdout.write(`Wrote ${OPENAPI_FILE} and clients/typescript/src/schema.d.ts\n`);
    return;
  }
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_FILE, 'utf8');
  } catch {
    // A missing file differs like any other.
  }
  if (committed !== fresh) {
    process.stderr.write('openapi.json is out of date: run `npm run openapi` and commit it.\n');
    process.exit(1);
  }
  generateClientTypes(true);
  process.stdout.write('openapi.json and the client types are up to date.\n');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
