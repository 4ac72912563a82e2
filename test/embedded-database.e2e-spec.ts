import { createTestApp, ON_POSTGRES, TestApp } from './app';

(ON_POSTGRES ? describe.skip : describe)('embedded database (PGlite in process)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('runs with small shared buffers: PGlite’s 128 MB default would all be resident', async () => {
    const [{ shared_buffers }] = await t.dataSource.query('SHOW shared_buffers');
    expect(shared_buffers).toBe('16MB');
  });

  it('keeps a transaction to itself: a concurrent query waits for its COMMIT', async () => {
    const runner = t.dataSource.createQueryRunner();
    let outside = false;
    let concurrent: Promise<unknown> | undefined;
    await runner.startTransaction();
    try {
      await runner.query(`CREATE TEMP TABLE tx_probe (n int) ON COMMIT DROP`);
      concurrent = t.dataSource.query('SELECT 1').then(() => (outside = true));
      await new Promise((r) => setTimeout(r, 50));
      // Had the other query run on the session now, it would be inside this transaction.
      expect(outside).toBe(false);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    await concurrent;
    expect(outside).toBe(true);
  });
});
