import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Development convenience: a secret that is not configured is generated once
 * into DATA_DIR (mode 0600) and reused on every restart, so tokens and sealed
 * device secrets survive restarts without any setup. Production never gets here.
 */
export function loadOrCreateDevSecret(
  dataDir: string,
  file: string,
  create: () => string,
  onCreate: (path: string) => void,
): string {
  const path = join(dataDir, file);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const value = create();
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return readFileSync(path, 'utf8').trim();
    throw error;
  }
  chmodSync(path, 0o600);
  onCreate(path);
  return value;
}

export const randomBase64 = (bytes: number) => () => randomBytes(bytes).toString('base64');
