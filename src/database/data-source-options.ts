import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { User } from '../auth/user.entity';
import { DeviceNonce } from '../device-auth/device-nonce.entity';
import { DeviceEvent } from '../devices/device-event.entity';
import { DeviceSecret } from '../devices/device-secret.entity';
import { Device } from '../devices/device.entity';
import { embeddedDataSource } from './embedded-database';
import { migrations } from './migrations';
import { ClosingOnTimeoutClient } from './pg-client';
import { PG_TYPES } from './timestamptz';

export const entities = [User, Device, DeviceSecret, DeviceEvent, DeviceNonce];

/** pg pool size on PostgreSQL (the embedded database gets one connection). */
const POOL_SIZE = 10;

export interface DatabaseTimeouts {
  /** Longest wait for a pooled connection (or for a new one to connect): pg's connectionTimeoutMillis. */
  poolTimeoutMs: number;
  /** PostgreSQL's statement_timeout, set on every connection. */
  statementTimeoutMs: number;
}

/**
 * How much longer than statement_timeout pg waits for an answer (its
 * query_timeout) before giving up on the server: time for the server's own
 * cancellation to arrive. Only a server that does not answer at all (hung,
 * or cut off without the connection closing) reaches it.
 */
export const QUERY_TIMEOUT_MARGIN_MS = 1000;

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = {
  poolTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
};

/** `url` undefined: the embedded database, whose pool options the database module adds. */
export function dataSourceOptions(
  url: string | undefined,
  timeouts: DatabaseTimeouts = DEFAULT_TIMEOUTS,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    // The pg this code imports (ClosingOnTimeoutClient extends its Client):
    // left to itself TypeORM would require its own at run time, which in the
    // bundled service is a second copy of pg loaded from node_modules.
    driver: pg,
    entities,
    migrations,
    migrationsRun: true,
    migrationsTransactionMode: 'each',
    synchronize: false,
    // TypeORM would otherwise run CREATE EXTENSION "uuid-ossp", which needs a
    // superuser and which PGlite lacks; gen_random_uuid() is built in since PG 13.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    // A database that does not answer makes requests fail fast (503), not hang:
    // waiting for a connection and running a statement are both bounded, the
    // statement by the server and, should the server not answer at all, by pg.
    // (The embedded database replaces these: see EmbeddedDatabase.)
    extra: {
      max: POOL_SIZE,
      connectionTimeoutMillis: timeouts.poolTimeoutMs,
      statement_timeout: timeouts.statementTimeoutMs,
      query_timeout: timeouts.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
      Client: ClosingOnTimeoutClient,
      types: PG_TYPES,
    },
    logging: false,
  };
}

/**
 * The data source of the TypeORM CLI (npm run migration:*): PostgreSQL at
 * `url`, or without one the embedded database in `dataDir`, the same the
 * service would open. Migrations run only when the CLI says so.
 */
export async function migrationDataSource({
  url,
  dataDir,
}: {
  url?: string;
  dataDir: string;
}): Promise<DataSource> {
  const options = { ...dataSourceOptions(url), migrationsRun: false };
  return url ? new DataSource(options) : embeddedDataSource(options, dataDir);
}
