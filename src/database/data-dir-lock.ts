import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Another live process holds the DATA_DIR: starting would split the data in two. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another instance (pid ${pid}); ` +
        'stop it first, or give this one its own DATA_DIR',
    );
  }
}

interface Owner {
  pid: number;
  /** The process's start time (Linux clock ticks since boot), so a reused pid is not taken for it. */
  started: string | null;
}

const PREFIX = 'instance-';
const SUFFIX = '.lock';
/** Directories this process holds: a second open from the same process is refused too. */
const held = new Set<string>();

/** Field 22 of /proc/<pid>/stat; null where there is no /proc. */
function startTime(pid: number | 'self'): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after it do not.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive({ pid, started }: Owner): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return started === null || startTime(pid) === started;
}

function readOwner(path: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined; // removed meanwhile, or cut short by a crash while being written
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * One process at a time on an embedded DATA_DIR. PGlite has no interlock of its
 * own: two processes on one directory each run their own copy of the database
 * and overwrite each other's files.
 *
 * Each process writes its own `instance-<pid>.lock` (its pid and start time),
 * then looks for the file of any other live process; if there is one, it
 * removes its own and refuses. The file of a process that is gone (kill -9, a
 * crash, a reboot) is stale and removed at once, so a restart needs no cleanup
 * and no waiting — unlike an mtime-based lock such as proper-lockfile's, which
 * can only call a lock stale after a timeout. Writing before looking makes it
 * safe without a second lock: of two processes starting at the same moment, at
 * least one sees the other, never neither.
 *
 * Returns the function that releases the lock.
 */
export function lockDataDir(dataDir: string): () => void {
  if (held.has(dataDir)) throw new DataDirLockedError(dataDir, process.pid);
  const mine = `${PREFIX}${process.pid}${SUFFIX}`;
  const own: Owner = { pid: process.pid, started: startTime('self') };
  // Not `wx`: a file with our own pid is a stale one from an earlier process
  // (a container's pid 1 is pid 1 again after a restart).
  writeFileSync(join(dataDir, mine), JSON.stringify(own), { mode: 0o600 });
  try {
    for (const name of readdirSync(dataDir)) {
      if (name === mine || !name.startsWith(PREFIX) || !name.endsWith(SUFFIX)) continue;
      const path = join(dataDir, name);
      const other = readOwner(path);
      if (other && isAlive(other)) throw new DataDirLockedError(dataDir, other.pid);
      // A half-written file belongs to a process that is still writing it or died doing so; the
      // writer sees our file in the first case, so removing it is safe either way.
      removeQuietly(path);
    }
  } catch (error) {
    removeQuietly(join(dataDir, mine));
    throw error;
  }
  held.add(dataDir);
  return () => {
    if (!held.delete(dataDir)) return;
    removeQuietly(join(dataDir, mine));
  };
}
