import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCommand } from '../scripts/start-command';

// The built service, started as `npm start` starts it, against a database that
// does not answer: each connection attempt is logged as it happens, as pino
// JSON, and the start fails after the configured attempts with a clear message.

const root = join(__dirname, '..');

/** A port on which nothing listens. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Line {
  at: number;
  text: string;
}

describe('start-up with an unreachable database (built service)', () => {
  let dataDir: string;

  beforeAll(() => {
    // `npm start` does the same: build when dist/ is missing or stale.
    execFileSync(process.execPath, [join(root, 'scripts/build-if-needed.js')], {
      cwd: root,
      stdio: 'ignore',
    });
    dataDir = mkdtempSync(join(tmpdir(), 'dr-startup-'));
  }, 180_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('logs every retry as it happens, as JSON, then exits 1 naming the cause', async () => {
    const port = await closedPort();
    const started = Date.now();
    const command = startCommand(root);
    const child = spawn(process.execPath, command.args, {
      cwd: root,
      env: {
        ...command.env,
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nothing`,
        DATA_DIR: dataDir,
        JWT_SECRET: randomBytes(32).toString('hex'),
        DEVICE_SECRET_KEK: randomBytes(32).toString('base64'),
        LOG_LEVEL: 'info',
        PORT: '0',
        DATABASE_CONNECT_ATTEMPTS: '4',
        DATABASE_CONNECT_RETRY_DELAY_MS: '700',
      },
    });
    const stdout: Line[] = [];
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const text of lines) if (text.trim()) stdout.push({ at: Date.now() - started, text });
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));

    expect(code).toBe(1);
    // Every line is pino JSON: no coloured text, no escape sequences.
    for (const { text } of stdout) {
      expect(text).not.toContain('\u001b[');
      expect(() => JSON.parse(text)).not.toThrow();
    }
    const entries = stdout.map((l) => ({ at: l.at, ...JSON.parse(l.text) })) as {
      at: number;
      level: number;
      msg: string;
      context?: string;
    }[];
    const retries = entries.filter((e) => /Unable to connect to the database/.test(e.msg));
    expect(retries.length).toBe(4);
    expect(retries.every((e) => e.context === 'TypeOrmModule' && e.level === 50)).toBe(true);
    // Logged as they happen, one retry delay apart, not all at the end.
    for (let i = 1; i < retries.length; i++) {
      expect(retries[i].at - retries[i - 1].at).toBeGreaterThanOrEqual(500);
    }
    const fatal = entries.find((e) => e.level === 60);
    expect(fatal?.msg).toMatch(/Start-up failed: .*ECONNREFUSED/);
    expect(stderr).toMatch(/Start-up failed/);
  }, 60_000);
});
