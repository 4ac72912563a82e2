import { setFlagsFromString } from 'node:v8';

/**
 * V8 lets the old generation grow to several times what is live before a full
 * collection; under signed load that is ~130 MB of garbage over ~45 MB live.
 * Collecting once it has grown by a fifth holds the heap near what is live:
 * peak RSS on PostgreSQL 289 → ~200 MB in `npm run bench`, for about a tenth
 * more server CPU per signed request (the README's Performance section).
 */
const HEAP_GROWING = '--heap-growing-percent=20';

/**
 * PGlite's WebAssembly runs on V8's baseline compiler only. Optimising its hot
 * functions as well cost ~40 MB of resident code and a quarter of a second of
 * each start (restart to ready 1.5 → 1.2 s) for no throughput we could
 * measure (20,000 upserts: 4.1 s either way). It is the process's only
 * WebAssembly, and the flag only acts on what is compiled next.
 */
export const LIFTOFF_ONLY = '--liftoff-only';

/**
 * Every V8 flag the service sets. The launcher (src/launcher.ts) sets them
 * before it compiles the bundle, as V8 takes a code cache only under the
 * flags it was made with; setting one again to the same value changes nothing.
 */
export function setServiceV8Flags(): void {
  setFlagsFromString(HEAP_GROWING);
  setFlagsFromString(LIFTOFF_ONLY);
}
