import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-device expiry, suspension, scopes and source networks. `status` stops
 * being stored: it is derived from revoked_at, expires_at and disabled_at
 * (src/devices/device-status.ts), so the two can no longer disagree.
 */
export class CredentialPolicy1795860000000 implements MigrationInterface {
  name = 'CredentialPolicy1795860000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE devices
        ADD COLUMN expires_at timestamptz,
        ADD COLUMN disabled_at timestamptz,
        ADD COLUMN scopes varchar(64)[] NOT NULL DEFAULT '{}',
        ADD COLUMN allowed_cidrs cidr[] NOT NULL DEFAULT '{}',
        ADD CONSTRAINT ck_devices_scopes_count CHECK (cardinality(scopes) <= 32),
        ADD CONSTRAINT ck_devices_allowed_cidrs_count CHECK (cardinality(allowed_cidrs) <= 32),
        DROP CONSTRAINT ck_devices_status,
        DROP COLUMN status`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE devices ADD COLUMN status varchar(16) NOT NULL DEFAULT 'active'`);
    await q.query(`UPDATE devices SET status = 'revoked' WHERE revoked_at IS NOT NULL`);
    await q.query(`
      ALTER TABLE devices
        ADD CONSTRAINT ck_devices_status CHECK (
          (status = 'active' AND revoked_at IS NULL) OR (status = 'revoked' AND revoked_at IS NOT NULL)
        ),
        DROP CONSTRAINT ck_devices_scopes_count,
        DROP CONSTRAINT ck_devices_allowed_cidrs_count,
        DROP COLUMN expires_at,
        DROP COLUMN disabled_at,
        DROP COLUMN scopes,
        DROP COLUMN allowed_cidrs`);
  }
}
