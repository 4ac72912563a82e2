import { createHook } from 'node:async_hooks';

/**
 * One of `process.nextTick`'s tick objects, held for the life of the process.
 *
 * Node makes each tick object with an object literal whose first two keys are
 * computed (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback,
 * args }`). V8 remembers the hidden class (map) such a literal built last, and
 * holds it weakly: when a full garbage collection finds no tick object alive,
 * which an idle moment of a start easily gives, those maps die, the next tick
 * object gets new ones, and V8 marks the literal megamorphic for good. From
 * then on every tick object is built by a call into V8's runtime, ~3.5× the
 * cost of `nextTick` before (~5× under Node 24), and a request makes a dozen
 * of them: `GET /health/live` ran 168,000 instructions a request against
 * 134,000 with one tick object kept (callgrind). A start of the service runs
 * enough collections that it nearly always ended in the slow state. Holding
 * one tick object keeps its map, and the maps it was built through, alive.
 *
 * Node hands a tick object to no one but an async hook's `init`: the hook is
 * enabled for the one `nextTick` below and no longer. The object is held by
 * `process` itself: a module's own variable would not do, as nothing refers
 * to the bundle's modules (scripts/bundle.js) once the service has started.
 */
const KEPT = Symbol.for('device-registry.tick-object');

export function keepTickObjectShape(): void {
  const holder = process as unknown as Record<symbol, object | undefined>;
  if (holder[KEPT]) return;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') holder[KEPT] ??= resource as object;
    },
  }).enable();
  try {
    process.nextTick(() => {});
  } finally {
    hook.disable();
  }
}
