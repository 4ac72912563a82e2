import type { ObjectLiteral, Repository } from 'typeorm';

/**
 * The rows of an INSERT, UPDATE or DELETE query builder's `RETURNING` as
 * entities, loaded the way a find loads them: each returned column is put on
 * its property by the entity's metadata, with the driver's value conversions.
 * TypeORM hands those rows back by column name (`result.raw`); this keeps a
 * second list of columns out of the repositories.
 */
export function returnedEntities<T extends ObjectLiteral>(
  repository: Repository<T>,
  result: { raw: unknown },
): T[] {
  const rows = Array.isArray(result.raw) ? (result.raw as Record<string, unknown>[]) : [];
  const driver = repository.manager.dataSource.driver;
  return rows.map((row) => {
    const entity = repository.create();
    for (const column of repository.metadata.columns) {
      if (column.databaseName in row) {
        column.setEntityValue(
          entity,
          driver.prepareHydratedValue(row[column.databaseName], column),
        );
      }
    }
    return entity;
  });
}
