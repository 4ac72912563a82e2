import type { DataSource, EntityMetadata, ObjectLiteral, Repository } from 'typeorm';

/**
 * `alias."column" AS "property"` for the columns of an entity (all, or the
 * properties named), read from TypeORM's metadata: a hand-written statement
 * built with it follows a column added or renamed in the entity, with no
 * second list to keep in step.
 */
export function selectList(metadata: EntityMetadata, alias: string, only?: string[]): string {
  return columnsOf(metadata, only)
    .map((c) => `${alias}."${c.databaseName}" AS "${c.propertyPath}"`)
    .join(', ');
}

/**
 * A row of such a statement as TypeORM itself would load the entity (its
 * value conversions and transformers applied). `by`: whether the row names
 * its values by property (`selectList`) or by column (`RETURNING`); a column
 * the row lacks is left out.
 */
export function hydrate<T extends ObjectLiteral>(
  dataSource: DataSource,
  metadata: EntityMetadata,
  row: Record<string, unknown>,
  { only, by = 'property' }: { only?: string[]; by?: 'property' | 'column' } = {},
): T {
  const entity = metadata.create() as T;
  for (const column of columnsOf(metadata, only)) {
    const name = by === 'property' ? column.propertyPath : column.databaseName;
    if (!(name in row)) continue;
    column.setEntityValue(entity, dataSource.driver.prepareHydratedValue(row[name], column));
  }
  return entity;
}

/**
 * The rows of an INSERT, UPDATE or DELETE query builder's `RETURNING` as
 * entities: TypeORM hands them back by column name (`result.raw`).
 */
export function returnedEntities<T extends ObjectLiteral>(
  repository: Repository<T>,
  result: { raw: unknown },
): T[] {
  const rows = Array.isArray(result.raw) ? (result.raw as Record<string, unknown>[]) : [];
  const { dataSource } = repository.manager;
  return rows.map((row) => hydrate<T>(dataSource, repository.metadata, row, { by: 'column' }));
}

function columnsOf(metadata: EntityMetadata, only?: string[]) {
  if (!only) return metadata.columns;
  return only.map((property) => {
    const column = metadata.findColumnWithPropertyPath(property);
    if (!column) throw new Error(`${metadata.name} has no column ${property}`);
    return column;
  });
}
