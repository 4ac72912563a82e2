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

describe('examples/proxies: the upstream body checks of the README', () => {
  it('Python: accepts the body X-Content-SHA256 names, and an empty body without it; refuses others', () => {
    const script = [
      'import sys; sys.path.insert(0, "examples/proxies")',
      'from content_sha256 import body_matches_signature as ok',
      'h = {"X-Content-SHA256": "9b2256dda39304d05b7cb0dc49a46953a9d9570645024bf2f890aff723f312a9"}',
      'body = b\'{"symbol":"EURUSD","side":"buy","lots":0.1}\'',
      'print(ok(h, body), ok(h, body + b" "), ok({}, b""), ok({}, b"{}"))',
    ].join('\n');
    const run = spawnSync('python3', ['-c', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout.trim()).toBe('True False True False');
  });

  it('Node: the same', () => {
    const { bodyMatchesSignature: ok } = require('../../examples/proxies/content-sha256.js') as {
      bodyMatchesSignature: (h: Record<string, string>, b: Buffer) => boolean;
    };
    const v = fixtures.vectors.find((x) => x.name === 'order-via-proxy')!;
    const h = { 'x-content-sha256': v.bodySha256 };
    const body = Buffer.from(v.body);
    expect([
      ok(h, body),
      ok(h, Buffer.from(`${v.body} `)),
      ok({}, Buffer.alloc(0)),
      ok({}, Buffer.from('{}')),
    ]).toEqual([true, false, true, false]);
  });
});
