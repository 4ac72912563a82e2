import type { Config } from '@jest/types';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { COVERAGE_DIR_ENV } from './recorder';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every (operation, status) pair openapi.json documents, as `METHOD /path STATUS`. */
export function documentedPairs(doc: {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}): Set<string> {
  const pairs = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      for (const status of Object.keys(item[method].responses))
        pairs.add(`${method.toUpperCase()} ${path} ${status}`);
    }
  }
  return pairs;
}

/** Runs of a part of the e2e project (a file, a name pattern) prove nothing about the whole. */
function partialRun(g: Config.GlobalConfig): string | undefined {
  const patterns = (g.testPathPatterns as unknown as { patterns?: string[] }).patterns ?? [];
  if (patterns.length > 0) return `test path patterns ${patterns.join(' ')}`;
  if (g.testNamePattern) return `test name pattern ${g.testNamePattern}`;
  if (g.onlyChanged || g.findRelatedTests) return 'only changed or related tests';
  if (g.shard) return 'a shard';
  return undefined;
}

/**
 * After the whole e2e project: every (route, status) pair that openapi.json
 * documents must have been answered by some e2e test, and every answer a
 * documented route gave must be documented.
 */
export default function globalTeardown(globalConfig: Config.GlobalConfig): void {
  const dir = process.env[COVERAGE_DIR_ENV];
  if (!dir) return;
  try {
    const partial = partialRun(globalConfig);
    if (partial) {
      console.log(`\nAPI coverage not checked: this run selected ${partial}.`);
      return;
    }
    const answered = new Set(
      readdirSync(dir).flatMap((f) =>
        readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean),
      ),
    );
    const doc = JSON.parse(readFileSync(join(__dirname, '../../openapi.json'), 'utf8'));
    const documented = documentedPairs(doc);
    const routes = new Set([...documented].map((p) => p.slice(0, p.lastIndexOf(' '))));
    const missing = [...documented].filter((p) => !answered.has(p)).sort();
    const undocumented = [...answered]
      .filter((p) => routes.has(p.slice(0, p.lastIndexOf(' '))) && !documented.has(p))
      .sort();
    const problems = [
      ...missing.map((p) => `documented, but no e2e test answers it: ${p}`),
      ...undocumented.map((p) => `answered, but not documented: ${p}`),
    ];
    if (problems.length > 0) throw new Error(`API coverage:\n  ${problems.join('\n  ')}`);
    console.log(
      `\nAPI coverage: all ${documented.size} documented (route, status) pairs of ${routes.size} routes answered by e2e tests.`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
