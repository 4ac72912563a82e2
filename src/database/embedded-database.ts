import { Logger } from '@nestjs/common';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { lockDataDir } from './data-dir-lock';
import { builtTemplate } from './embedded-template';
import { LIFTOFF_ONLY } from '../v8-flags';

const SHARED_BUFFERS = '4MB';
/**
 * Frontend messages of an extended query that PostgreSQL answers only at the
 * next Sync or Flush: Parse, Bind, Describe, Execute and Close.
 */
const DEFERRED = new Set([0x50, 0x42, 0x44, 0x45, 0x43]);

interface Session {
  readonly waitReady: Promise<void>;
  readonly closed: boolean;
  execProtocolStream(message: Uint8Array, options?: object): Promise<unknown[]>;
}

/**
 * PGlite as the node-postgres adapter sees it, with two changes.
 *
 * The adapter hands PGlite each protocol message on its own, so a prepared
 * statement (Bind, Describe, Execute, Sync) was four passes through PGlite's
 * main loop, output flush and file-system sync. The messages PostgreSQL
 * answers only at the next Sync or Flush are held back here and go with it,
 * in one pass, as they would in one packet to a server: PostgreSQL handles
 * them, errors included, exactly as it would one by one.
 *
 * And the event loop runs before each pass. PGlite answers within the same
 * chain of promises, so queries queued for the session would otherwise run
 * back to back with no I/O in between: requests arriving meanwhile wait for
 * the whole queue (measured under 50 concurrent signed requests: p99 4.9 s
 * without, 1.1 s with, and 2.5× the throughput).
 */
function batchingSession(db: Session): Session {
  let held: Uint8Array[] = [];
  return {
    waitReady: db.waitReady,
    get closed() {
      return db.closed;
    },
    async execProtocolStream(message, options) {
      if (DEFERRED.has(message[0])) {
        held.push(message);
        return [];
      }
      const messages = held.length ? Buffer.concat([...held, message]) : message;
      held = [];
      await new Promise((resolve) => setImmediate(resolve));
      // A message queued before the database was stopped, by a client that
      // has ended meanwhile (the adapter has dropped its error listener):
      // PGlite would throw, and the adapter would re-emit that as an error
      // nobody listens to, which ends the process. Nothing answers it.
      if (db.closed) return [];
      return db.execProtocolStream(messages, options);
    },
  };
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) persisted in
 * DATA_DIR/pglite and running in this process. The app reaches it through the
 * same `pg` driver, SQL and migrations as a real server: PGlite's node-postgres
 * adapter stands in for pg's socket, so nothing listens on any port and no
 * other local user can connect. DATA_DIR is locked for as long as it is open.
 */
export class EmbeddedDatabase {
  private static readonly logger = new Logger('EmbeddedDatabase');

  private constructor(
    private readonly db: { readonly closed: boolean; close(): Promise<void> },
    private readonly unlock: () => void,
    /** Options for pg's Pool (TypeORM's `extra`) that reach this database. */
    readonly poolOptions: Record<string, unknown>,
  ) {}

  /** `template`: the data directory a new database is copied from (default: the built one, if any). */
  static async start(
    dataDir: string,
    template: () => string | undefined = builtTemplate,
  ): Promise<EmbeddedDatabase> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const unlock = lockDataDir(dataDir);
    try {
      // Already set when the launcher runs the bundle; unbundled (tests, `nest start`) here.
      setFlagsFromString(LIFTOFF_ONLY);
      // Loaded on demand: a PostgreSQL deployment never pays for them.
      const { PGlite } = await import('@electric-sql/pglite');
      const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
      const dir = join(dataDir, 'pglite');
      const started = Date.now();
      const copied = existsSync(join(dir, 'PG_VERSION')) ? undefined : template();
      if (copied) cpSync(copied, dir, { recursive: true });
      const db = await PGlite.create(dir, {
        // PostgreSQL touches all of shared_buffers at start: PGlite's 128 MB
        // default cost ~140 MB of resident memory, and 16 MB still 50 ms of
        // each start. A registry's working set is a few MB, and the operating
        // system caches the files besides.
        startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
      });
      EmbeddedDatabase.logger.log(
        `Embedded PostgreSQL (PGlite) in ${dir} ${copied ? 'created from the template and ' : ''}` +
          `ready in ${Date.now() - started} ms`,
      );
      const poolOptions = {
        // A plain object, as pg copies its options; `connection` is the adapter.
        // The adapter uses only waitReady and execProtocolStream of a PGlite.
        ...createPgConfig(batchingSession(db) as unknown as typeof db),
        // One client: PGlite has a single session, and the adapter is that
        // session. The pool hands the client to one TypeORM query runner at a
        // time, so no other query can land inside a transaction.
        max: 1,
        // Keep that client for good: a replacement would take over the same
        // adapter while the old client's asynchronous 'end' is still under way.
        idleTimeoutMillis: 0,
        // No statement is bounded here. PGlite accepts statement_timeout but
        // never cancels (its single-user backend has no timer signal: a
        // pg_sleep(1.5) under 200 ms runs to its end), and a statement runs
        // synchronously in this thread, so no client-side timer can fire
        // during it either; one that fired between the messages of a query
        // would close the only client. The README says so.
        query_timeout: undefined,
        Client: undefined,
      };
      return new EmbeddedDatabase(db, unlock, poolOptions);
    } catch (error) {
      unlock();
      throw error;
    }
  }

  async stop(): Promise<void> {
    try {
      if (!this.db.closed) await this.db.close();
    } finally {
      this.unlock();
    }
  }
}

/**
 * A data source that owns the embedded database it runs on: destroying it
 * stops PGlite and frees DATA_DIR.
 */
export class EmbeddedAwareDataSource extends DataSource {
  embedded?: EmbeddedDatabase;

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.embedded?.stop();
    }
  }
}

/**
 * A data source (not yet initialized) on the embedded database in `dataDir`,
 * which it starts; for the service and for the TypeORM CLI alike.
 */
export async function embeddedDataSource(
  options: DataSourceOptions,
  dataDir: string,
): Promise<EmbeddedAwareDataSource> {
  const embedded = await EmbeddedDatabase.start(dataDir);
  const dataSource = new EmbeddedAwareDataSource({
    ...options,
    extra: { ...(options.extra as object), ...embedded.poolOptions },
  } as DataSourceOptions);
  dataSource.embedded = embedded;
  return dataSource;
}
