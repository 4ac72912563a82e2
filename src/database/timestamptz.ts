import pg from 'pg';

/** PostgreSQL's type oid of `timestamptz`. */
export const TIMESTAMPTZ_OID = 1184;

/** pg's own parser of `timestamptz` text (postgres-date), for every form the fast path leaves. */
const slowParse = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (
  text: string,
) => Date | number;

const ZERO = 48;

/** The two-digit number at `i`, or NaN. */
function twoDigits(text: string, i: number): number {
  const tens = text.charCodeAt(i) - ZERO;
  const ones = text.charCodeAt(i + 1) - ZERO;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : NaN;
}

/**
 * A `timestamptz` as PostgreSQL writes it in its ISO DateStyle, the form it
 * has on every connection (`2026-12-08 02:54:36.123456+00`, the offset that
 * of the session's TimeZone: `+01`, `-03:30`, `+05:53:28`), read with string
 * indexing instead of pg's regular expressions and `parseInt`s: every device
 * row holds seven of them, and pg's parser cost about a twentieth of the
 * instructions of a signed request. The same Date as pg's parser (a unit test
 * compares the two). `undefined` for the forms it leaves to pg's parser
 * (`infinity`, BC, years before 1000 or after 9999, anything else).
 */
export function readTimestamptz(text: string): Date | undefined {
  const n = text.length;
  if (n < 22 || text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(10) !== 32) return undefined;
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2);
  let ms = 0;
  let i = 19;
  if (text.charCodeAt(i) === 46 /* . */) {
    // Milliseconds, truncated (as Date does with pg's fraction).
    let scale = 100;
    for (i = 20; i < n; i++) {
      const digit = text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) break;
      ms += digit * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  const sign = text.charCodeAt(i);
  const minutes = text.charCodeAt(i + 3) === 58; /* : */
  const seconds = minutes && text.charCodeAt(i + 6) === 58;
  const offset =
    twoDigits(text, i + 1) * 3600 +
    (minutes ? twoDigits(text, i + 4) * 60 : 0) +
    (seconds ? twoDigits(text, i + 7) : 0);
  const time = Date.UTC(
    year,
    twoDigits(text, 5) - 1,
    twoDigits(text, 8),
    twoDigits(text, 11),
    twoDigits(text, 14),
    twoDigits(text, 17),
    ms,
  );
  if (
    year < 1000 ||
    i + 3 + (minutes ? 3 : 0) + (seconds ? 3 : 0) !== n ||
    (sign !== 43 /* + */ && sign !== 45) /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    Number.isNaN(time + offset)
  ) {
    return undefined;
  }
  return new Date(time - (sign === 45 ? -offset : offset) * 1000);
}

/** pg's parser of `timestamptz`, with readTimestamptz first. */
export function parseTimestamptz(text: string): Date | number {
  return readTimestamptz(text) ?? slowParse(text);
}

/**
 * pg's type parsers with `timestamptz` replaced, for pg's `types` option:
 * every query of the service reads its timestamps through parseTimestamptz.
 */
export const PG_TYPES = {
  getTypeParser(oid: number, format?: string): unknown {
    if (oid === TIMESTAMPTZ_OID && (format ?? 'text') === 'text') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};
