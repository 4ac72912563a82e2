// `npm run build` step: bundles the compiled service (dist/src/main.js and
// what it imports) into one file, dist/service.js, and its launcher
// (dist/src/launcher.js) into dist/main.js, which `npm start` runs.
//
// Node resolves, reads and links each of the ~2,000 ES modules and CommonJS
// files of NestJS, TypeORM, Fastify and the rest one by one at every start;
// one file saves most of that (see the README's Performance section). The
// CLIs and the tests keep using dist/src.
'use strict';

const { build } = require('esbuild');
const { createHash } = require('node:crypto');
const { readFileSync, readdirSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');

/**
 * Loaded at run time from node_modules, not bundled: packages that read files
 * beside their own code (PGlite's WebAssembly, Swagger UI's assets, argon2's
 * native addon), pino-pretty, which only a pretty log format loads, and the
 * optional packages NestJS and pg try to load, which this service does not
 * install. pino is bundled: only its worker transports, which the service
 * does not use, would look for files of its own.
 */
const EXTERNAL = [
  '@electric-sql/pglite',
  '@fastify/static',
  'argon2',
  'ioredis',
  'pino-pretty',
  'swagger-ui-dist',
  'pg-native',
  '@fastify/multipart',
  '@fastify/view',
  '@nestjs/microservices',
  '@nestjs/microservices/*',
  '@nestjs/platform-express',
  '@nestjs/websockets',
  '@nestjs/websockets/*',
];

/**
 * @nestjs/typeorm looks up TypeORM 0.3's `Connection` and `AbstractRepository`
 * through a `require` it creates at run time, which a bundle cannot follow:
 * each start loaded a second, complete TypeORM from node_modules (some 80 ms
 * of a restart and its memory) only to find both absent from TypeORM 1. Here
 * the same lookup reads the bundled TypeORM.
 */
const typeormCompat = {
  name: 'typeorm-compat',
  setup(build) {
    build.onLoad(
      { filter: /@nestjs[\\/]typeorm[\\/]dist[\\/]common[\\/]typeorm-compat\.js$/ },
      () => ({
        contents: [
          "import * as typeorm from 'typeorm';",
          "export const Connection = typeorm['Connection'];",
          "export const AbstractRepository = typeorm['AbstractRepository'];",
        ].join('\n'),
        loader: 'js',
      }),
    );
  },
};

/**
 * A package's module with some of its text replaced, at bundle time; the
 * build fails when a text is no longer there (the package changed).
 */
function patch(name, filter, replacements) {
  return {
    name,
    setup(build) {
      build.onLoad({ filter }, (args) => {
        let contents = readFileSync(args.path, 'utf8');
        for (const [from, to] of replacements) {
          const before = contents;
          contents = contents.replace(from, to);
          if (contents === before)
            throw new Error(`${args.path} has changed: see ${name} in scripts/bundle.js`);
        }
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * pg asks once it loads whether it runs on Cloudflare Workers; where there is
 * no `navigator` (Node 20) by making a fetch `Response`, which has Node load
 * its whole fetch implementation for nothing: ~35 ms of every start. The
 * service runs on Node only.
 */
const pgStream = patch('pg-stream', /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/, [
  ['if (isCloudflareRuntime()) {', 'if (false) {'],
]);

/**
 * NestJS's console loggers each make an `Intl.DateTimeFormat` when they load,
 * for timestamps they print; the first costs ~20 ms (Node loads ICU's locale
 * data). The service logs through pino, so they are made when first used.
 */
const nestLoggerClock = patch(
  'nest-logger-clock',
  /[\\/]node_modules[\\/]@nestjs[\\/]common[\\/]services[\\/](console-)?logger\.service\.js$/,
  [
    [
      /const dateTimeFormatter = new Intl\.DateTimeFormat\(undefined, (\{[^}]*\})\);/,
      'let madeDateTimeFormatter;\nconst dateTimeFormatter = { format: (date) => ' +
        '(madeDateTimeFormatter ??= new Intl.DateTimeFormat(undefined, $1)).format(date) };',
    ],
  ],
);

/**
 * Every character outside ASCII as a \\u escape. esbuild escapes them in
 * strings but leaves regular expressions and comments as they are (a few of
 * validator.js's locale patterns), and one such character makes Node decode
 * the whole file as UTF-8 into a two-byte string, which V8 then parses more
 * slowly: reading it took 110 ms instead of 60 here, compiling it 200 instead
 * of 140.
 * The escape means the same code unit in a string, a template, a regular
 * expression (a surrogate pair escaped as two still reads as one code point
 * under the u flag) and an identifier; the bundle holds no tagged template
 * whose raw text it would change.
 */
function ascii(code) {
  return code.replace(/[^\0-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function main() {
  const service = await build({
    entryPoints: [join(ROOT, 'dist/src/main.js')],
    outfile: join(ROOT, 'dist/service.js'),
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL,
    // import() as require(): Node 20 loses a script's import() callback when
    // V8 compiles it from a code cache (src/launcher.ts); Node 20.19 and later
    // require ES modules too.
    supported: { 'dynamic-import': false },
    // Not keepNames: it wraps every named closure in a call that sets its name,
    // on the request path too (/health/live 43 → 60 µs of CPU a request). Our
    // classes keep their names (CommonJS modules stay in their own scope); only
    // some of NestJS's own log contexts read `_InstanceLoader` and the like.
    // The bundled ES modules ask where they are (createRequire, import.meta.resolve):
    // the bundle answers for them, and resolves from dist/ into node_modules.
    banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__bundleUrl', 'import.meta.resolve': 'require.resolve' },
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [typeormCompat, pgStream, nestLoggerClock],
    logLevel: 'warning',
  });
  const code = ascii(service.outputFiles[0].text);
  writeFileSync(join(ROOT, 'dist/service.js'), code);
  // The code caches of earlier builds (src/launcher.ts) fit no more.
  for (const file of readdirSync(join(ROOT, 'dist'))) {
    if (/^service\..*\.cache/.test(file)) rmSync(join(ROOT, 'dist', file), { force: true });
  }
  await build({
    entryPoints: [join(ROOT, 'dist/src/launcher.js')],
    outfile: join(ROOT, 'dist/main.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: {
      SERVICE_BUNDLE_SHA256: JSON.stringify(createHash('sha256').update(code).digest('hex')),
    },
    logLevel: 'warning',
  });
}

main().catch((error) => {
  // esbuild has printed its own errors.
  if (!error.errors) console.error(error);
  process.exit(1);
});
