import type { ExecutionContext, Type } from '@nestjs/common';

/**
 * A fact about a route read from its decorators once, then remembered per
 * controller and handler: decorators are fixed when a class is defined, and
 * reflect-metadata walks prototype chains on every lookup. Keyed by both, as
 * one handler may serve two controllers (a subclass inherits it).
 */
export class RouteMetadata<T> {
  private readonly byController = new WeakMap<object, WeakMap<object, T>>();

  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  constructor(private readonly read: (handler: Function, controller: Type) => T) {}

  of(context: ExecutionContext): T {
    const controller = context.getClass();
    const handler = context.getHandler();
    let handlers = this.byController.get(controller);
    if (!handlers) this.byController.set(controller, (handlers = new WeakMap()));
    let value = handlers.get(handler);
    if (value === undefined && !handlers.has(handler)) {
      value = this.read(handler, controller);
      handlers.set(handler, value);
    }
    return value as T;
  }
}
