import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { migrationDataSource } from '../src/database/data-source-options';
import { createTestApp, TestApp } from './app';
import { createDevice, getDevice } from './factories/devices';
import { registerUser } from './factories/users';

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

  it('CredentialPolicy down stores status again, filled from revoked_at; up derives it again', async () => {
    const owner = await registerUser(t);
    const active = await createDevice(t, owner);
    const revoked = await createDevice(t, owner);
    await request(t.server)
      .post(`/api/v1/devices/${revoked.id}/revoke`)
      .set(owner.auth)
      .expect(204);
    await request(t.server)
      .patch(`/api/v1/devices/${active.id}`)
      .set(owner.auth)
      .send({ scopes: ['orders:write'], allowedCidrs: ['2001:db8::/32'] })
      .expect(200);
    const before = [await getDevice(t, owner, active.id), await getDevice(t, owner, revoked.id)];
    const statuses = () =>
      t.dataSource.query(`SELECT id, status FROM devices WHERE user_id = $1 ORDER BY status`, [
        owner.id,
      ]);

    expect(t.dataSource.migrations.at(-1)!.name).toBe('CredentialPolicy1795860000000');
    await t.dataSource.undoLastMigration({ transaction: 'each' });
    expect(await statuses()).toEqual([
      { id: active.id, status: 'active' },
      { id: revoked.id, status: 'revoked' },
    ]);
    // The restored CHECK holds status and revoked_at together again.
    await expect(
      t.dataSource.query(`UPDATE devices SET status = 'active' WHERE id = $1`, [revoked.id]),
    ).rejects.toThrow(/ck_devices_status/);

    await t.dataSource.runMigrations({ transaction: 'each' });
    await expect(statuses()).rejects.toThrow(/status/);
    expect(await getDevice(t, owner, active.id)).toEqual({
      ...before[0],
      scopes: [],
      allowedCidrs: [],
    });
    expect(await getDevice(t, owner, revoked.id)).toEqual(before[1]);
  });

  it('holds at most 32 scopes and 32 networks per device in the database too', async () => {
    const owner = await registerUser(t);
    const device = await createDevice(t, owner);
    const many = Array.from({ length: 33 }, (_, i) => `10.${i}.0.0/16`);
    await expect(
      t.dataSource.query(`UPDATE devices SET allowed_cidrs = $2 WHERE id = $1`, [device.id, many]),
    ).rejects.toThrow(/ck_devices_allowed_cidrs_count/);
    await expect(
      t.dataSource.query(`UPDATE devices SET scopes = $2 WHERE id = $1`, [device.id, many]),
    ).rejects.toThrow(/ck_devices_scopes_count/);
    await expect(
      t.dataSource.query(`UPDATE devices SET allowed_cidrs = '{10.0.0.1/8}' WHERE id = $1`, [
        device.id,
      ]),
    ).rejects.toThrow(/cidr/);
  });

  it('leaves nothing for migration:generate: the entities declare the schema the migrations build', async () => {
    const pending = await t.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('the migration commands work without DATABASE_URL: on the embedded database in DATA_DIR, nothing to generate', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dr-cli-'));
    try {
      for (const pass of ['first', 'again'] as const) {
        // The CLI's own data source; a second open proves destroy freed DATA_DIR.
        const cli = await migrationDataSource({ dataDir });
        await cli.initialize();
        try {
          const ran = await cli.runMigrations({ transaction: 'each' });
          expect(ran).toHaveLength(pass === 'first' ? cli.migrations.length : 0);
          const pending = await cli.driver.createSchemaBuilder().log();
          expect(pending.upQueries.map((q) => q.query)).toEqual([]);
        } finally {
          await cli.destroy();
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
