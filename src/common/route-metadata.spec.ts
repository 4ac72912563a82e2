import type { ExecutionContext } from '@nestjs/common';
import { RouteMetadata } from './route-metadata';

class Parent {
  handle(): void {}
}
class Child extends Parent {}

function contextOf(controller: object, handler: object): ExecutionContext {
  return { getClass: () => controller, getHandler: () => handler } as unknown as ExecutionContext;
}

describe('RouteMetadata', () => {
  it('reads each route once and answers the same afterwards', () => {
    const read = jest.fn((handler: object, controller: object) =>
      controller === Child ? 'child' : 'parent',
    );
    const metadata = new RouteMetadata(read);
    const handler = Parent.prototype.handle;
    expect(metadata.of(contextOf(Parent, handler))).toBe('parent');
    expect(metadata.of(contextOf(Parent, handler))).toBe('parent');
    expect(read).toHaveBeenCalledTimes(1);
    // The same handler inherited by another controller is another route.
    expect(metadata.of(contextOf(Child, handler))).toBe('child');
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('remembers an undefined answer too', () => {
    const read = jest.fn(() => undefined);
    const metadata = new RouteMetadata(read);
    const context = contextOf(Parent, Parent.prototype.handle);
    expect(metadata.of(context)).toBeUndefined();
    expect(metadata.of(context)).toBeUndefined();
    expect(read).toHaveBeenCalledTimes(1);
  });
});
