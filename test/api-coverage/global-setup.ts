import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COVERAGE_DIR_ENV } from './recorder';

/** A fresh folder per run for the answers the e2e apps record (workers inherit the variable). */
export default function globalSetup(): void {
  process.env[COVERAGE_DIR_ENV] = mkdtempSync(join(tmpdir(), 'dr-api-coverage-'));
}
