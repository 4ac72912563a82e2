import { Logger } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) persisted in
 * DATA_DIR/pglite and served on 127.0.0.1 by pglite-socket, so the app talks
 * to it with the same `pg` driver and the same migrations as a real server.
 * PGlite has one backend: queries from all pool connections are serialised.
 */
export class EmbeddedDatabase {
  private static readonly logger = new Logger('EmbeddedDatabase');

  private constructor(
    private readonly db: { readonly closed: boolean; close(): Promise<void> },
    private readonly server: { stop(): Promise<void> },
    readonly url: string,
  ) {}

  /** `dataDir` undefined: in memory (tests). */
  static async start(
    dataDir: string | undefined,
    maxConnections: number,
  ): Promise<EmbeddedDatabase> {
    // Both packages are ESM-only and loaded on demand: a PostgreSQL deployment never pays for them.
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    let dir: string | undefined;
    if (dataDir) {
      dir = join(dataDir, 'pglite');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    const started = Date.now();
    const db = await PGlite.create(dir);
    // The socket package's types name PGlite's CommonJS declarations; it is the same class.
    type SocketDb = ConstructorParameters<typeof PGLiteSocketServer>[0]['db'];
    const server = new PGLiteSocketServer({
      db: db as unknown as SocketDb,
      host: '127.0.0.1',
      port: 0,
      maxConnections,
    });
    await server.start();
    const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
    EmbeddedDatabase.logger.log(
      `Embedded PostgreSQL (PGlite) ${dir ? `in ${dir}` : 'in memory'} ready in ${Date.now() - started} ms`,
    );
    return new EmbeddedDatabase(db, server, url);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    if (!this.db.closed) await this.db.close();
  }
}
