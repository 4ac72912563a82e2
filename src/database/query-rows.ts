import type { EntityManager } from 'typeorm';

/**
 * Raw SQL returning its rows for every command (TypeORM's `query()` returns
 * `[rows, count]` for UPDATE and DELETE). Only for the statements TypeORM
 * cannot say, each with a comment saying why. Inside a transaction it uses
 * the transaction's connection; never a second one.
 */
export async function queryRows<T>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const runner = em.queryRunner ?? em.dataSource.createQueryRunner();
  try {
    const result = await runner.query(sql, params, true);
    return result.records as T[];
  } finally {
    if (!em.queryRunner) await runner.release();
  }
}

/** The PostgreSQL error of a failed statement, if it is one (e.g. 23505 unique_violation). */
export function pgError(error: unknown): { code?: string; constraint?: string } | undefined {
  const e = error as { driverError?: { code?: string; constraint?: string } };
  return e?.driverError;
}
