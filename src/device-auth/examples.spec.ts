import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fixtures from './signing.vectors.json';

// The Python example is what device authors copy; it must keep agreeing with
// the vectors that signing.spec.ts pins for the server's signer.
const ROOT = join(__dirname, '..', '..');

describe('examples/python/device_signing.py', () => {
  it('reproduces every signing vector', () => {
    const run = spawnSync(
      'python3',
      ['examples/python/device_signing.py', 'src/device-auth/signing.vectors.json'],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
    );

    expect(run.error).toBeUndefined();
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual(fixtures.vectors.map((v) => `ok ${v.name}`));
  });
});
