import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, lockDataDir } from './data-dir-lock';

describe('lockDataDir', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dr-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lockFiles = () => readdirSync(dir).filter((f) => f.endsWith('.lock'));
  /** A pid that no process has: one that just exited. */
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

  it('writes this process id, and the release removes the file', () => {
    const release = lockDataDir(dir);
    expect(lockFiles()).toEqual([`instance-${process.pid}.lock`]);
    const owner = JSON.parse(readFileSync(join(dir, lockFiles()[0]), 'utf8'));
    expect(owner.pid).toBe(process.pid);
    release();
    expect(lockFiles()).toEqual([]);
  });

  it('refuses a second lock from the same process until the first is released', () => {
    const release = lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    release();
    lockDataDir(dir)();
  });

  it('refuses while another live process holds the directory, naming the directory and the pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const started = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      writeFileSync(
        join(dir, `instance-${child.pid}.lock`),
        JSON.stringify({ pid: child.pid, started }),
      );
      const attempt = () => lockDataDir(dir);
      expect(attempt).toThrow(DataDirLockedError);
      expect(attempt).toThrow(`DATA_DIR ${dir} is in use by another instance (pid ${child.pid})`);
      // The refused process leaves nothing behind.
      expect(lockFiles()).toEqual([`instance-${child.pid}.lock`]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over at once the lock of a process that is gone (kill -9, crash)', () => {
    const pid = deadPid();
    writeFileSync(join(dir, `instance-${pid}.lock`), JSON.stringify({ pid, started: '1' }));
    const release = lockDataDir(dir);
    expect(lockFiles()).toEqual([`instance-${process.pid}.lock`]);
    release();
  });

  it('takes a live pid with another start time for a reused pid, not for the owner', () => {
    // Our parent is alive, but it is not the process that wrote this file.
    const pid = process.ppid;
    writeFileSync(join(dir, `instance-${pid}.lock`), JSON.stringify({ pid, started: '1' }));
    lockDataDir(dir)();
    expect(existsSync(join(dir, `instance-${pid}.lock`))).toBe(false);
  });

  it('takes over a file cut short by a crash while it was written', () => {
    writeFileSync(join(dir, `instance-${deadPid()}.lock`), '{"pid":');
    lockDataDir(dir)();
    expect(lockFiles()).toEqual([]);
  });
});
