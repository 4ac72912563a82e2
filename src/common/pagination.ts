import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { badRequest } from './api-error';
import { ErrorCode } from './error-codes';

/** `?limit=&cursor=` of every list route. */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;

  @ApiPropertyOptional({ description: 'Opaque; the `nextCursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

/**
 * Cursors are opaque to clients: base64url of a JSON array holding the sort
 * key of the last item of the page. A cursor that does not decode is a 400.
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T extends readonly unknown[]>(
  cursor: string,
  isValid: (key: unknown[]) => key is [...T],
): T {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!Array.isArray(key) || !isValid(key))
    throw badRequest(ErrorCode.ValidationFailed, 'cursor is invalid');
  return key as unknown as T;
}

/** Fetch `limit + 1` rows; this trims the extra one and builds the next cursor from the last kept row. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  keyOf: (row: R) => (string | number)[],
) {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  return {
    items: items.map(map),
    nextCursor: more ? encodeCursor(keyOf(items[items.length - 1])) : null,
  };
}
