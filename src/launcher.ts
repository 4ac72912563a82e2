/**
 * dist/main.js, what `npm start` runs: compiles the bundled service
 * (dist/service.js, see scripts/bundle.js) with V8's code cache and starts it.
 *
 * Compiling the 5 MB bundle, and then each function as it first runs, was a
 * fifth of every start. Once a start has finished, the code V8 compiled for it
 * is written next to the bundle, and every later start takes it from there.
 * V8 checks that the cache fits (same V8, same flags, same source length; the
 * file name carries the bundle's hash besides) and compiles as usual when it
 * does not, writing the cache anew. It is written only where the code itself
 * lies (whoever can write there can change the code anyway), and a read-only
 * dist/ only means each start compiles.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { keepTickObjectShape } from './tick-object-shape';
import { setServiceV8Flags } from './v8-flags';

/** The hex SHA-256 of dist/service.js, set by scripts/bundle.js. */
declare const SERVICE_BUNDLE_SHA256: string;

const bundle = join(__dirname, 'service.js');
const cacheFile = join(__dirname, `service.${SERVICE_BUNDLE_SHA256.slice(0, 16)}.cache`);

setServiceV8Flags();
// Before the bundle loads: its garbage collections could otherwise cost every tick object.
keepTickObjectShape();
// The bundle is ASCII (scripts/bundle.js), so Latin-1 reads it as it is, without decoding UTF-8.
const source = readFileSync(bundle, 'latin1');
// Only the compilation reads the cache: the buffer (~4.5 MB) is not kept.
const script = new Script(Module.wrap(source), { filename: bundle, cachedData: readCache() });
const compiledFromCache = script.cachedDataRejected === false;

const serviceRequire = createRequire(bundle);
const service = new Module(bundle, module);
service.filename = bundle;
service.paths = serviceRequire.resolve.paths('node_modules') ?? [];
(script.runInThisContext() as (...args: unknown[]) => void).call(
  service.exports,
  service.exports,
  serviceRequire,
  service,
  bundle,
  __dirname,
);

void (service.exports as { start(): Promise<void> }).start().then(() => {
  if (!compiledFromCache) setImmediate(writeCache);
});

function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

function writeCache(): void {
  const partial = `${cacheFile}.${process.pid}`;
  try {
    writeFileSync(partial, script.createCachedData());
    renameSync(partial, cacheFile);
  } catch {
    rmSync(partial, { force: true });
  }
}
