import { Logger } from '@nestjs/common';
import { DatabaseError, Pool, QueryConfig } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { queryRows } from './query-rows';

/** A statement of a hot path, with a name unique to its text. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/** duplicate_prepared_statement, invalid_sql_statement_name: the session is not this connection's own. */
const FOREIGN_SESSION = new Set(['42P05', '26000']);

/**
 * Runs the statements of a hot path. On a `pg` pool (PostgreSQL) a statement
 * goes to the pool as a named statement, which each connection parses and
 * plans once; TypeORM's query path cannot name one. Measured on signed
 * GET /device/me (interleaved rounds, medians): TypeORM's path 650–1,000
 * requests a second, the pool unnamed 970–1,080, named 1,770–2,030 — the
 * gain is the planning of the statement, not TypeORM's wrapper. Any other
 * driver (an in-process embedded one) takes TypeORM's ordinary query path.
 * Errors are TypeORM's QueryFailedError either way, so callers read the
 * PostgreSQL error code with `pgError()` whichever path ran.
 */
export class PreparedStatements {
  private readonly logger = new Logger('PreparedStatements');
  private pool?: Pool | null;
  private named = true;

  constructor(private readonly dataSource: DataSource) {}

  async run<T>(statement: PreparedStatement, values: unknown[]): Promise<T[]> {
    const pool = this.pgPool();
    if (!pool) return queryRows<T>(this.dataSource.manager, statement.text, values);
    if (this.named) {
      try {
        return await this.send<T>(pool, { name: statement.name, text: statement.text, values });
      } catch (error) {
        const code = (error as QueryFailedError<DatabaseError>).driverError?.code;
        if (!code || !FOREIGN_SESSION.has(code)) throw error;
        // Connections share sessions behind a transaction-mode pooler (PgBouncer)
        // or on PGlite, so a name one connection prepared is not another's. The
        // statement failed before it ran: send it again, unnamed from now on.
        this.named = false;
        this.logger.warn(`Named statements are not available (${code}); sending them unnamed`);
      }
    }
    return this.send<T>(pool, { text: statement.text, values });
  }

  private async send<T>(pool: Pool, query: QueryConfig): Promise<T[]> {
    try {
      return (await pool.query(query)).rows as T[];
    } catch (error) {
      // A connection failure stays as it is, as on TypeORM's path.
      if (error instanceof DatabaseError)
        throw new QueryFailedError(query.text, query.values, error);
      throw error;
    }
  }

  private pgPool(): Pool | null {
    if (this.pool === undefined) {
      // Read once the data source is up: before that the driver has no pool yet.
      if (!this.dataSource.isInitialized) return null;
      const master = (this.dataSource.driver as { master?: unknown }).master;
      this.pool = master instanceof Pool ? master : null;
    }
    return this.pool;
  }
}
