import { createTestApp, TestApp } from './app';

const TABLES = ['device_events', 'device_nonces', 'device_secrets', 'devices', 'users'];

describe('migrations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const tables = async (): Promise<string[]> =>
    (
      await t.dataSource.query(
        `SELECT table_name FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY table_name`,
      )
    ).map((r: { table_name: string }) => r.table_name);

  it('ran at start, and every one has a down that undoes it and an up that redoes it', async () => {
    expect(await tables()).toEqual(TABLES);
    const applied = t.dataSource.migrations.length;
    for (let i = 0; i < applied; i++) await t.dataSource.undoLastMigration({ transaction: 'each' });
    expect(await tables()).toEqual([]);
    const redone = await t.dataSource.runMigrations({ transaction: 'each' });
    expect(redone).toHaveLength(applied);
    expect(await tables()).toEqual(TABLES);
  });

  it('declares the partial unique index and the cascading foreign keys', async () => {
    const [index] = await t.dataSource.query(
      `SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_devices_user_active_name'`,
    );
    expect(index.indexdef).toMatch(
      /UNIQUE INDEX .* \(user_id, lower\(\(name\)::text\)\) WHERE \(revoked_at IS NULL\)/,
    );
    const fks = await t.dataSource.query(
      `SELECT conrelid::regclass::text AS child, confdeltype FROM pg_constraint WHERE contype = 'f' ORDER BY 1`,
    );
    expect(fks).toEqual(
      ['device_events', 'device_nonces', 'device_secrets', 'devices'].map((child) => ({
        child,
        confdeltype: 'c',
      })),
    );
  });

  it('leaves nothing for migration:generate: the entities declare the schema the migrations build', async () => {
    const pending = await t.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });
});
