import { ApiError } from './api-error';
import { decodeCursor, encodeCursor, toPage } from './pagination';
import { thrown } from '../../test/support/thrown';

type Key = [string, string];
const isKey = (key: unknown[]): key is Key =>
  key.length === 2 && typeof key[0] === 'string' && typeof key[1] === 'string';

function expectValidationFailed(run: () => unknown): void {
  const error = thrown(ApiError, run);
  expect(error.getStatus()).toBe(400);
  expect(error.code).toBe('validation_failed');
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

describe('encodeCursor / decodeCursor', () => {
  it('round-trips a sort key', () => {
    const key: Key = ['2026-11-28T09:00:00.000Z', '0b6f3c1e-8f4a-4f7e-9a51-2d1c3b4a5e6f'];
    const cursor = encodeCursor(key);

    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor<Key>(cursor, isKey)).toEqual(key);
  });

  it('round-trips numbers and non-ASCII strings', () => {
    const key = [42, 'näme/“quoted”'];
    const isMixed = (k: unknown[]): k is [number, string] =>
      typeof k[0] === 'number' && typeof k[1] === 'string';
    expect(decodeCursor(encodeCursor(key), isMixed)).toEqual(key);
  });

  it.each([
    ['garbage', '!!!not a cursor!!!'],
    ['empty', ''],
    ['base64url of non-JSON', b64url('{"a":')],
  ])('rejects %s with 400 validation_failed', (_label, cursor) => {
    expectValidationFailed(() => decodeCursor<Key>(cursor, isKey));
  });

  it.each([
    ['an object', b64url('{"0":"a","1":"b"}')],
    ['a string', b64url('"a"')],
    ['a number', b64url('1')],
    ['null', b64url('null')],
  ])('rejects JSON that is %s, not an array', (_label, cursor) => {
    const seen: unknown[] = [];
    const validator = (key: unknown[]): key is Key => {
      seen.push(key);
      return isKey(key);
    };
    expectValidationFailed(() => decodeCursor<Key>(cursor, validator));
    expect(seen).toEqual([]);
  });

  it.each([
    ['too short', ['a']],
    ['too long', ['a', 'b', 'c']],
    ['wrong types', [1, 2]],
  ])('rejects an array key the validator rejects (%s)', (_label, key) => {
    expectValidationFailed(() => decodeCursor<Key>(encodeCursor(key), isKey));
  });
});

describe('toPage', () => {
  interface Row {
    id: string;
    at: string;
  }
  const rows: Row[] = Array.from({ length: 4 }, (_, i) => ({ id: `id-${i}`, at: `t-${i}` }));
  const map = (r: Row) => r.id.toUpperCase();
  const keyOf = (r: Row) => [r.at, r.id];

  it('trims the extra row and builds the next cursor from the last kept row', () => {
    const page = toPage(rows, 3, map, keyOf);

    expect(page.items).toEqual(['ID-0', 'ID-1', 'ID-2']);
    expect(page.nextCursor).not.toBeNull();
    expect(decodeCursor<Key>(page.nextCursor!, isKey)).toEqual(['t-2', 'id-2']);
  });

  it('has a null nextCursor on the last page', () => {
    expect(toPage(rows.slice(0, 3), 3, map, keyOf)).toEqual({
      items: ['ID-0', 'ID-1', 'ID-2'],
      nextCursor: null,
    });
    expect(toPage(rows.slice(0, 2), 3, map, keyOf).nextCursor).toBeNull();
  });

  it('gives an empty last page for no rows', () => {
    expect(toPage([], 3, map, keyOf)).toEqual({ items: [], nextCursor: null });
  });
});
