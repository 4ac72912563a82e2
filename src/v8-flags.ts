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
 * WebAssembly, and the flags only act on what is compiled next.
 *
 * The two tier-up flags are what `--liftoff-only` implies, said outright: V8
 * works out a flag's implications when it reads its command line, not when a
 * flag is set later. Node 24's V8 went on tiering PGlite's hot functions up
 * to TurboFan under `--liftoff-only` alone, and an embedded start peaked at
 * ~730 MB of resident memory (~180 MB with them; Node 20 needed only the one).
 */
const WASM_BASELINE_ONLY = ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering'];

export function setWasmBaselineOnly(): void {
  for (const flag of WASM_BASELINE_ONLY) setFlagsFromString(flag);
}

/**
 * No Maglev, V8's middle optimising compiler (on by default from Node 22; Node
 * 20's V8 leaves it off): a long-running server's hot code ends up in TurboFan
 * anyway, and Maglev's code and its compilations held ~13 MB more at the peak
 * of `npm run bench` on PostgreSQL under Node 24 (205–210 MB against 187–197
 * in alternating runs), for CPU per request within the runs' spread.
 */
const NO_MAGLEV = '--no-maglev';

/**
 * Every V8 flag the service sets. The launcher (src/launcher.ts) sets them
 * before it compiles the bundle, as V8 takes a code cache only under the
 * flags it was made with; setting one again to the same value changes nothing.
 */
export function setServiceV8Flags(): void {
  setFlagsFromString(HEAP_GROWING);
  setFlagsFromString(NO_MAGLEV);
  setWasmBaselineOnly();
}
