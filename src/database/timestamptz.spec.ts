import pg from 'pg';
import { parseTimestamptz, PG_TYPES, readTimestamptz, TIMESTAMPTZ_OID } from './timestamptz';

const pgParse = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => unknown;

const time = (value: unknown) => (value instanceof Date ? value.getTime() : value);

/** A timestamptz as PostgreSQL writes it: `YYYY-MM-DD HH:MM:SS[.f]±HH[:MM[:SS]]`. */
function written(ms: number, fraction: string, offsetSeconds: number): string {
  const local = new Date(ms + offsetSeconds * 1000).toISOString();
  const abs = Math.abs(offsetSeconds);
  const hh = String(Math.floor(abs / 3600)).padStart(2, '0');
  const mm = String(Math.floor((abs % 3600) / 60)).padStart(2, '0');
  const ss = String(abs % 60).padStart(2, '0');
  const zone =
    (offsetSeconds < 0 ? '-' : '+') +
    hh +
    (abs % 3600 === 0 ? '' : `:${mm}`) +
    (abs % 60 === 0 ? '' : `:${ss}`);
  return `${local.slice(0, 10)} ${local.slice(11, 19)}${fraction}${zone}`;
}

describe('parseTimestamptz', () => {
  it('reads what PostgreSQL writes as pg does, to the millisecond', () => {
    expect(time(readTimestamptz('2026-12-08 02:54:36.123+00'))).toBe(
      Date.UTC(2026, 11, 8, 2, 54, 36, 123),
    );
    expect(time(readTimestamptz('2026-12-08 02:54:36+01'))).toBe(Date.UTC(2026, 11, 8, 1, 54, 36));
    expect(time(readTimestamptz('2026-12-07 22:24:36.5-03:30'))).toBe(
      Date.UTC(2026, 11, 8, 1, 54, 36, 500),
    );
    // Truncated, not rounded, as pg's parser (through Date) does.
    expect(time(readTimestamptz('1999-12-31 23:59:59.999999+00'))).toBe(
      Date.UTC(1999, 11, 31, 23, 59, 59, 999),
    );
  });

  it('agrees with pg on every millisecond fraction, precision and offset', () => {
    const offsets = [0, 3600, -3600, 19800, -12600, 20008, -35999, 50400];
    const fractions = ['', '.5', '.05', '.123', '.1234', '.12345', '.123456', '.999999', '.000001'];
    for (let ms = 0; ms < 1000; ms++) fractions.push(`.${String(ms).padStart(3, '0')}`);
    let checked = 0;
    for (const offset of offsets) {
      for (const fraction of fractions) {
        const at = Date.UTC(2000 + (checked % 60), checked % 12, 1 + (checked % 28), checked % 24);
        const text = written(at, fraction, offset);
        expect([text, time(readTimestamptz(text))]).toEqual([text, time(pgParse(text))]);
        checked++;
      }
    }
    expect(checked).toBe(offsets.length * fractions.length);
  });

  it.each([
    'infinity',
    '-infinity',
    '0044-03-15 12:00:00+00 BC',
    '0099-01-01 00:00:00+00',
    '0999-06-30 12:00:00.25+00',
    '12026-01-01 00:00:00+00',
    '2026-12-08 02:54:36',
    '2026-12-08T02:54:36Z',
  ])('leaves %s to pg parser', (text) => {
    expect(readTimestamptz(text)).toBeUndefined();
    expect(time(parseTimestamptz(text))).toEqual(time(pgParse(text)));
  });

  it('is what the pool reads timestamptz with, and leaves the other types to pg', () => {
    expect(PG_TYPES.getTypeParser(TIMESTAMPTZ_OID, 'text')).toBe(parseTimestamptz);
    expect(PG_TYPES.getTypeParser(TIMESTAMPTZ_OID)).toBe(parseTimestamptz);
    for (const oid of [16, 20, 1114, 1185, 3802]) {
      expect(PG_TYPES.getTypeParser(oid, 'text')).toBe(pg.types.getTypeParser(oid, 'text'));
    }
  });
});
