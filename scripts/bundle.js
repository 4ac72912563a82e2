// `npm run build` step: bundles the compiled service (dist/src/main.js and
// what it imports) into one file, dist/main.js, which `npm start` runs.
//
// Node resolves, reads and links each of the ~2,000 ES modules and CommonJS
// files of NestJS, TypeORM, Fastify and the rest one by one at every start;
// one file saves most of that (see the README's Performance section). The
// CLIs and the tests keep using dist/src.
'use strict';

const { build } = require('esbuild');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');

/**
 * Loaded at run time from node_modules, not bundled: packages that read files
 * beside their own code (PGlite's WebAssembly, Swagger UI's assets, argon2's
 * native addon, pino's worker transports), and the optional packages NestJS
 * and pg try to load, which this service does not install.
 */
const EXTERNAL = [
  '@electric-sql/pglite',
  '@fastify/static',
  'argon2',
  'ioredis',
  'pino',
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

build({
  entryPoints: [join(ROOT, 'dist/src/main.js')],
  outfile: join(ROOT, 'dist/main.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: EXTERNAL,
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
  plugins: [typeormCompat],
  logLevel: 'warning',
}).catch(() => process.exit(1));
