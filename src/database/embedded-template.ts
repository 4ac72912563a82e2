import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A new embedded database starts as a copy of a template: the data directory
 * of an empty cluster, made once by `npm run build` (PGlite's initdb), instead
 * of running initdb at every first start. initdb is most of a cold start's
 * time and memory (it runs a second PGlite instance); copying the files takes
 * a few milliseconds. The template is tied to the PGlite version that made
 * it; a start that finds none for its version runs initdb as before.
 */
export function templatePath(): string {
  return join(packageRoot(__dirname), 'dist', `pglite-template-${pgliteVersion()}`);
}

/** The built template's directory, if `npm run build` made one for this PGlite version. */
export function builtTemplate(): string | undefined {
  const path = templatePath();
  return existsSync(join(path, 'PG_VERSION')) ? path : undefined;
}

/** Makes the template in `path` (the build's last step), replacing an older one. */
export async function writeTemplate(path = templatePath()): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const work = mkdtempSync(join(tmpdir(), 'pglite-template-'));
  try {
    const db = await PGlite.create(join(work, 'pglite'));
    await db.close();
    rmSync(path, { recursive: true, force: true });
    cpSync(join(work, 'pglite'), path, { recursive: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function pgliteVersion(): string {
  const entry = require.resolve('@electric-sql/pglite');
  const manifest = JSON.parse(readFileSync(join(packageRoot(entry), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** The nearest folder upwards with a package.json. */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
