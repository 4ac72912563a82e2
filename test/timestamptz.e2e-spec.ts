import type { Pool } from 'pg';
import { PG_TYPES, readTimestamptz } from '../src/database/timestamptz';
import { createTestContext, TestContext } from './app';

/**
 * The service reads every timestamptz with its own parser (pg's `types`
 * option): checked here against what the database really writes, in time
 * zones whose offsets have minutes and (before standard time) seconds.
 */
describe('timestamptz from the database', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(() => t.close());

  it("is what the data source's connections read types with", () => {
    const pool = (t.dataSource.driver as unknown as { master: Pool & { options: object } }).master;
    expect(pool.options).toMatchObject({ types: PG_TYPES });
  });

  it.each([
    ['UTC', '2026-12-08 02:54:36.123+00', '2026-12-08T02:54:36.123Z'],
    ['Asia/Kathmandu', '2026-12-08 02:54:36.123456+00', '2026-12-08T02:54:36.123Z'],
    ['America/St_Johns', '1999-12-31 23:59:59.999+00', '1999-12-31T23:59:59.999Z'],
    ['Asia/Kolkata', '1890-01-01 00:00:00.5+00', '1890-01-01T00:00:00.500Z'],
    ['Europe/Berlin', '2026-03-29 01:00:00+00', '2026-03-29T01:00:00.000Z'],
  ])('reads what the database writes in %s', async (zone, utc, iso) => {
    const runner = t.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`SET LOCAL TIME ZONE '${zone}'`);
      const [row] = (await runner.query(
        `SELECT $1::timestamptz AS at, $1::timestamptz::text AS written`,
        [utc],
      )) as { at: Date; written: string }[];
      await runner.commitTransaction();
      // The database wrote it in its own form, which the fast path takes…
      expect(readTimestamptz(row.written)).toBeInstanceOf(Date);
      // … and the Date the service got is the instant, to the millisecond.
      expect(row.at).toBeInstanceOf(Date);
      expect(row.at.toISOString()).toBe(iso);
      // (in the zone's own offset, not UTC's)
      expect(row.written.endsWith('+00')).toBe(zone === 'UTC');
    } finally {
      await runner.release();
    }
  });
});
