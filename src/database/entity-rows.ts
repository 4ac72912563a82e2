import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';

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
 * value conversions and transformers applied).
 */
export function hydrate<T extends ObjectLiteral>(
  dataSource: DataSource,
  metadata: EntityMetadata,
  row: Record<string, unknown>,
  only?: string[],
): T {
  const entity = {} as T;
  for (const column of columnsOf(metadata, only)) {
    column.setEntityValue(
      entity,
      dataSource.driver.prepareHydratedValue(row[column.propertyPath], column),
    );
  }
  return entity;
}

function columnsOf(metadata: EntityMetadata, only?: string[]) {
  if (!only) return metadata.columns;
  return only.map((property) => {
    const column = metadata.findColumnWithPropertyPath(property);
    if (!column) throw new Error(`${metadata.name} has no column ${property}`);
    return column;
  });
}
