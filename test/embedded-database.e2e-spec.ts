import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedDatabase } from '../src/database/embedded-database';
import { writeTemplate } from '../src/database/embedded-template';
import { createTestApp, ON_POSTGRES, TestApp } from './app';

(ON_POSTGRES ? describe.skip : describe)('embedded database (PGlite in process)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('runs with small shared buffers: PGlite’s 128 MB default would all be resident', async () => {
    const [{ shared_buffers }] = await t.dataSource.query('SHOW shared_buffers');
    expect(shared_buffers).toBe('4MB');
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

  it('leaves unanswered, without an error, a query that reaches it after it stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dr-stopped-'));
    try {
      const db = await EmbeddedDatabase.start(dir);
      const client = new Client(db.poolOptions);
      await client.connect();
      const errors: unknown[] = [];
      client.on('error', (e) => errors.push(e));
      await db.stop();
      // A query its client sent just after the stop (a pool's last one, say).
      let settled = false;
      const settle = () => (settled = true);
      void client.query('SELECT 1').then(settle, settle);
      await new Promise((r) => setTimeout(r, 100));
      expect(errors).toEqual([]);
      expect(settled).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers prepared statements sent in one pass, and each error in it, as a server would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dr-extended-'));
    const db = await EmbeddedDatabase.start(dir);
    const client = new Client(db.poolOptions);
    try {
      await client.connect();
      const named = { name: 'probe', text: 'SELECT $1::uuid AS id, $2::int + 1 AS n' };
      const id = '0b7e7a2c-4c1e-4e62-9d51-2f8f5e0c9a11';
      await expect(client.query({ ...named, values: [id, 1] })).resolves.toMatchObject({
        rows: [{ id, n: 2 }],
      });
      // Refused at Bind: the rest of that query is skipped until its Sync.
      await expect(client.query({ ...named, values: ['not-a-uuid', 1] })).rejects.toMatchObject({
        code: '22P02',
      });
      // Refused at Parse, then at Execute (division by zero).
      await expect(client.query({ name: 'bad', text: 'SELEC 1' })).rejects.toMatchObject({
        code: '42601',
      });
      await expect(client.query('SELECT 1 / $1::int AS q', [0])).rejects.toMatchObject({
        code: '22012',
      });
      // Several queries queued at once come back in order, each with its own answer.
      const answers = await Promise.all(
        [1, 2, 3].map((n) => client.query({ ...named, values: [id, n] })),
      );
      expect(answers.map((a) => a.rows[0].n)).toEqual([2, 3, 4]);
      // A transaction's statements and an error inside it: ROLLBACK leaves nothing.
      await client.query('CREATE TEMP TABLE probe_rows (n int PRIMARY KEY)');
      await client.query('BEGIN');
      await client.query('INSERT INTO probe_rows VALUES ($1)', [1]);
      await expect(client.query('INSERT INTO probe_rows VALUES ($1)', [1])).rejects.toMatchObject({
        code: '23505',
      });
      await client.query('ROLLBACK');
      const { rows } = await client.query('SELECT count(*)::int AS c FROM probe_rows');
      expect(rows).toEqual([{ c: 0 }]);
    } finally {
      await client.end();
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a new database from the built template', () => {
    let dir: string;
    let template: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dr-template-'));
      template = join(dir, 'template');
      await writeTemplate(template);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Runs `sql` on the embedded database through a pg client of its own, as the service does. */
    async function query(db: EmbeddedDatabase, sql: string) {
      const client = new Client(db.poolOptions);
      await client.connect();
      try {
        return (await client.query(sql)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    }

    it('starts from the template, keeps what is written, and uses it only when new', async () => {
      const dataDir = join(dir, 'data');
      let used = 0;
      const counted = () => {
        used++;
        return template;
      };
      const first = await EmbeddedDatabase.start(dataDir, counted);
      try {
        expect(used).toBe(1);
        await query(first, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
      } finally {
        await first.stop();
      }
      // Reopened: the template is not even looked at, the data is there.
      const again = await EmbeddedDatabase.start(dataDir, counted);
      try {
        expect(used).toBe(1);
        expect(await query(again, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
        expect(await query(again, 'SELECT current_user AS u')).toEqual([{ u: 'postgres' }]);
      } finally {
        await again.stop();
      }
    });
  });
});
