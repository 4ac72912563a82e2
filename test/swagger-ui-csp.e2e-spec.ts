import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, TestApp } from './app';
import { CHROMIUM_PATH, requireServices } from './services';

/**
 * Opens a page in headless Chromium and returns the DOM after its scripts ran,
 * and the browser's log, where Chromium reports every Content Security Policy
 * violation of the page as a console message.
 */
async function openInChromium(url: string): Promise<{ dom: string; log: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'dr-chromium-'));
  try {
    return await new Promise((resolve, reject) => {
      execFile(
        CHROMIUM_PATH,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          `--user-data-dir=${profile}`,
          '--enable-logging=stderr',
          '--v=0',
          '--virtual-time-budget=8000',
          '--dump-dom',
          url,
        ],
        { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => (error ? reject(error) : resolve({ dom: stdout, log: stderr })),
      );
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const CSP_VIOLATION = /Content Security Policy/i;

requireServices({ chromium: CHROMIUM_PATH })(
  'Swagger UI under the Content Security Policy (browser)',
  () => {
    let t: TestApp;
    let base: string;

    beforeAll(async () => {
      t = await createTestApp();
      await t.app.listen(0, '127.0.0.1');
      base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await t?.close();
    });

    it('renders every route of the API at /docs without a single CSP violation', async () => {
      const { dom, log } = await openInChromium(`${base}/docs`);
      // Rendered by Swagger UI's scripts from the OpenAPI document, not in the served HTML.
      expect(dom).toContain('Device Registry');
      for (const path of [
        '/api/v1/auth/register',
        '/api/v1/devices/{id}/rotate-secret',
        '/api/v1/device/heartbeat',
      ]) {
        expect(dom).toContain(`data-path="${path}"`);
      }
      expect(log).not.toMatch(CSP_VIOLATION);
    });

    // So a browser that stopped reporting violations cannot make the test above pass.
    it('would see a violation: an inline script under the same script-src is reported', async () => {
      const server: Server = createServer((_req, res) => {
        res.setHeader('Content-Security-Policy', "script-src 'self'");
        res.setHeader('Content-Type', 'text/html');
        res.end('<html><body><script>document.title = "ran"</script></body></html>');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const { port } = server.address() as AddressInfo;
        const { dom, log } = await openInChromium(`http://127.0.0.1:${port}/`);
        expect(dom).not.toContain('<title>ran</title>');
        expect(log).toMatch(CSP_VIOLATION);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  },
);
