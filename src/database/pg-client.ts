import { Client } from 'pg';

/** pg's error when no answer came within query_timeout. */
const READ_TIMEOUT = 'Query read timeout';

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * pg's Client, except that a query left without an answer for query_timeout
 * closes its connection. pg itself only stops waiting: the statement stays
 * in flight, and every later query on that connection would queue behind it
 * and time out too, so the pool would keep handing out a connection that
 * cannot answer. Closed, the connection is dropped by the pool (which removes
 * a client that is ending when it comes back), a rollback on it fails at
 * once instead of waiting once more, and the next request gets a fresh
 * connection.
 *
 * The pool and TypeORM call `query` with a callback last, PreparedStatements
 * (through the pool) too; a call without one gets a promise.
 */
export class ClosingOnTimeoutClient extends Client {
  private closing = false;

  // The overloads of pg's query, taken as they come.
  override query(...args: unknown[]): never {
    const run = super.query.bind(this) as (...a: unknown[]) => unknown;
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as Callback;
      args[last] = (error: Error | null, result?: unknown) => {
        this.closeAfter(error);
        callback(error, result);
      };
      return run(...args) as never;
    }
    const result = run(...args);
    if (result instanceof Promise) result.catch((error: Error) => this.closeAfter(error));
    return result as never;
  }

  private closeAfter(error: Error | null): void {
    if (error?.message !== READ_TIMEOUT || this.closing) return;
    this.closing = true;
    // With the statement still in flight, pg destroys the socket.
    this.end().catch(() => undefined);
  }
}
