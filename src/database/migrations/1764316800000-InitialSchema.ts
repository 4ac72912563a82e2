import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764316800000 implements MigrationInterface {
  name = 'InitialSchema1764316800000';

  // Timestamps are now() (the transaction's time) truncated to milliseconds:
  // every change of one transaction carries the same time (createdAt equals
  // updatedAt on insert, revokedAt equals updatedAt on revoke), and values
  // survive a round trip through a JavaScript Date, which cursors rely on.
  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email varchar(254) NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        CONSTRAINT uq_users_email UNIQUE (email)
      )`);
    await q.query(`
      CREATE TABLE devices (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name varchar(64) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'active',
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        last_seen_at timestamptz,
        revoked_at timestamptz,
        CONSTRAINT ck_devices_status CHECK (
          (status = 'active' AND revoked_at IS NULL) OR (status = 'revoked' AND revoked_at IS NOT NULL)
        )
      )`);
    await q.query(`CREATE INDEX ix_devices_user_created ON devices (user_id, created_at, id)`);
    await q.query(
      `CREATE UNIQUE INDEX uq_devices_user_active_name ON devices (user_id, lower(name)) WHERE revoked_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE device_secrets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        sealed bytea NOT NULL,
        kek_id varchar(32) NOT NULL,
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX ix_device_secrets_device ON device_secrets (device_id)`);
    await q.query(`CREATE INDEX ix_device_secrets_kek ON device_secrets (kek_id)`);
    await q.query(`
      CREATE TABLE device_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
        device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        type varchar(32) NOT NULL,
        at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        details jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await q.query(
      `CREATE INDEX ix_device_events_device_seq ON device_events (device_id, seq DESC)`,
    );
    await q.query(`
      CREATE TABLE device_nonces (
        device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
        nonce varchar(128) NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (device_id, nonce)
      )`);
    await q.query(`CREATE INDEX ix_device_nonces_expires ON device_nonces (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE device_nonces`);
    await q.query(`DROP TABLE device_events`);
    await q.query(`DROP TABLE device_secrets`);
    await q.query(`DROP TABLE devices`);
    await q.query(`DROP TABLE users`);
  }
}
