import { Logger } from '@nestjs/common';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { lockDataDir } from './data-dir-lock';
import { builtTemplate } from './embedded-template';
import { setWasmBaselineOnly } from '../v8-flags';

const SHARED_BUFFERS = '4MB';
/** The first byte of the frontend's Terminate message. */
const TERMINATE = 0x58;

/** What of a PGlite this module uses. */
interface Session {
  readonly closed: boolean;
  execProtocolRawStream(
    message: Uint8Array,
    options: { onRawData: (bytes: Uint8Array) => void },
  ): Promise<void>;
}

/**
 * PGlite as pg's Client sees a socket to a server: the protocol bytes pg
 * writes go to PGlite's backend as they are, and the bytes it answers come
 * back to pg's own parser, as from a server. (PGlite's node-postgres adapter
 * had PGlite's own parser turn them into messages first: 11–13 % of the
 * service's CPU under signed load. Its `execProtocolRaw` parses them too.)
 *
 * What pg writes in one turn of the event loop (a prepared statement's
 * Parse, Bind, Describe, Execute and Sync) goes to PGlite in one pass, as it
 * would in one packet to a server. And the event loop runs before each
 * pass: PGlite runs in this thread, so passes queued back to back would
 * otherwise run with no I/O in between and requests arriving meanwhile would
 * wait for all of them (under 50 concurrent signed requests: p99 4.9 s
 * without, 1.1 s with, and 2.5× the throughput).
 */
class SessionSocket extends Duplex {
  private held: Buffer[] = [];
  private passes: Promise<void> = Promise.resolve();

  constructor(private readonly db: Session) {
    super();
  }

  connect(): this {
    process.nextTick(() => this.emit('connect'));
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    // pg writes one message a call. Its Terminate is not passed on: it would
    // end PGlite's one session, which outlives this client.
    if (chunk[0] !== TERMINATE && this.held.push(chunk) === 1) {
      process.nextTick(() => this.pass());
    }
    done();
  }

  override _read(): void {}

  /** The end of the answers comes after every answer. */
  override _final(done: () => void): void {
    this.passes = this.passes.then(() => {
      this.push(null);
      done();
    });
  }

  private pass(): void {
    const bytes = this.held.length === 1 ? this.held[0] : Buffer.concat(this.held);
    this.held = [];
    this.passes = this.passes.then(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      // Written before the database was stopped, by a client that has ended
      // meanwhile: nothing answers, as nothing would on a closed socket.
      if (this.db.closed || this.destroyed) return;
      try {
        // Each piece is a view of PGlite's memory, which its next write reuses.
        const answer: Buffer[] = [];
        await this.db.execProtocolRawStream(bytes, {
          onRawData: (b) => answer.push(Buffer.from(b)),
        });
        for (const piece of answer) this.push(piece);
      } catch (error) {
        this.destroy(error as Error);
      }
    });
  }
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) persisted in
 * DATA_DIR/pglite and running in this process. The app reaches it through the
 * same `pg` driver, SQL and migrations as a real server: a stream into PGlite
 * (SessionSocket) stands in for pg's socket, so nothing listens on any port
 * and no other local user can connect. DATA_DIR is locked for as long as it
 * is open.
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
      setWasmBaselineOnly();
      // Loaded on demand: a PostgreSQL deployment never pays for it.
      const { PGlite } = await import('@electric-sql/pglite');
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
        stream: () => new SessionSocket(db),
        user: 'postgres',
        database: 'postgres',
        // One client: PGlite has a single session. The pool hands the client
        // to one TypeORM query runner at a time, so no other query can land
        // inside a transaction.
        max: 1,
        // Keep that client for good: the statements it prepares stay in
        // PGlite's one session, where a new client would find their names taken.
        idleTimeoutMillis: 0,
        // No statement is bounded here. PGlite accepts statement_timeout but
        // never cancels (its single-user backend has no timer signal: a
        // pg_sleep(1.5) under 200 ms runs to its end), and a statement runs
        // synchronously in this thread, so no client-side timer can fire
        // during it either; one that fired between the messages of a query
        // would close the only client. The README says so.
        statement_timeout: undefined,
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
