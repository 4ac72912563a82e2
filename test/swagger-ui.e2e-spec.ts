import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { hmac, sha256Hex, signature } from '../src/device-auth/signing';
import { createTestApp, TestApp } from './app';
import { newCredentials } from './factories/users';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, '..', 'artifacts');
const available = existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true') throw new Error(`CI=true and no Chromium at ${CHROMIUM}`);
  console.log(`Swagger UI test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
}

/**
 * An explorer's whole session in Swagger UI, in a real browser: register and
 * log in with "Try it out", authorize with the token, register a device,
 * authorize as the device (its requests are then signed in the page) and
 * call GET /api/v1/device/me.
 */
(available ? describe : describe.skip)('Swagger UI in Chromium (e2e)', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const sent: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    // launch() starts from a fresh, temporary profile.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) =>
      sent.push(`${r.url()} ${JSON.stringify(r.headers())} ${r.postData()}`),
    );
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const operation = (tag: string, operationId: string) =>
    page.locator(`#operations-${tag}-${operationId}`);

  /** Opens an operation, "Try it out", optionally a JSON body, "Execute"; returns status and body. */
  async function tryItOut(op: Locator, body?: unknown): Promise<{ status: number; body: string }> {
    await op.locator('.opblock-summary').first().click();
    await op.getByRole('button', { name: 'Try it out' }).click();
    if (body !== undefined)
      await op.locator('textarea.body-param__text').fill(JSON.stringify(body));
    await op.getByRole('button', { name: 'Execute' }).click();
    const response = op.locator('.live-responses-table .response').first();
    await response.waitFor();
    const status = Number(await response.locator('.response-col_status').first().innerText());
    const text = (
      await response.locator('.microlight, .highlight-code pre').first().innerText()
    ).trim();
    return { status, body: text };
  }

  /** "Authorize" for one scheme of the dialog, filling its inputs in order. */
  async function authorize(scheme: string, values: string[]) {
    await page.locator('.auth-wrapper .authorize').first().click();
    const container = page
      .locator('.auth-container')
      .filter({ has: page.locator('h4', { hasText: new RegExp(`^${scheme}\\s*\\(`) }) });
    const inputs = container.locator('input');
    for (const [i, value] of values.entries()) await inputs.nth(i).fill(value);
    await container.locator('button.authorize').click();
    await page.locator('.modal-ux .btn-done, .modal-ux .close-modal').first().click();
  }

  it('does the owner flow and the device flow with "Try it out", signing device requests in the page', async () => {
    await page.goto(`${await t.app.getUrl()}/docs`);
    await operation('auth', 'registerUser').waitFor();

    const credentials = newCredentials();
    expect((await tryItOut(operation('auth', 'registerUser'), credentials)).status).toBe(201);
    const login = await tryItOut(operation('auth', 'login'), credentials);
    expect(login.status).toBe(200);
    await authorize('bearer', [JSON.parse(login.body).accessToken]);

    const created = await tryItOut(operation('devices', 'registerDevice'), { name: 'Browser' });
    expect(created.status).toBe(201);
    const device = JSON.parse(created.body) as { id: string; secret: string };
    expect(device.secret).toMatch(/^dvs_/);

    await authorize('deviceSignature', [device.id, device.secret]);
    const me = await tryItOut(operation('device', 'getCurrentDevice'));
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toMatchObject({ id: device.id, name: 'Browser' });

    const beat = await tryItOut(operation('device', 'sendHeartbeat'), { equity: 1 });
    expect(beat.status).toBe(204);

    // The secret stayed in the page: neither it nor Basic credentials were sent.
    const basic = Buffer.from(`${device.id}:${device.secret}`).toString('base64');
    const afterCreation = sent.slice(sent.findIndex((r) => r.includes('/device/me')));
    expect(afterCreation.filter((r) => r.includes(device.secret) || r.includes(basic))).toEqual([]);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await operation('device', 'getCurrentDevice')
      .locator('.live-responses-table')
      .scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SCREENSHOTS, 'swagger-ui-device-flow.png') });
    expect(problems).toEqual([]);
  });

  it('signs in the page exactly as the reference signer does, forward-auth descriptions included', async () => {
    // The session above left the page authorized as a device; read it back.
    const { id, secret } = await page
      .evaluate(() => {
        const w = globalThis as unknown as {
          ui: { authSelectors: { authorized(): { toJS(): Record<string, { value: object }> } } };
        };
        return w.ui.authSelectors.authorized().toJS().deviceSignature.value as {
          username: string;
          password: string;
        };
      })
      .then((v) => ({ id: v.username, secret: v.password }));
    const sign = (req: {
      url: string;
      method: string;
      headers: Record<string, string>;
      body?: string;
    }) =>
      page.evaluate(
        (r) =>
          (
            globalThis as unknown as {
              deviceRegistrySign(x: typeof r): Promise<typeof r>;
            }
          ).deviceRegistrySign(r),
        req,
      );
    const base = await t.app.getUrl();

    const body = '{"equity":1}';
    const direct = await sign({
      url: `${base}/api/v1/device/heartbeat?x=1`,
      method: 'POST',
      headers: {},
      body,
    });
    const h = direct.headers;
    expect(h['X-Content-SHA256']).toBe(sha256Hex(body));
    expect(h['X-Signature']).toBe(
      signature(secret, {
        method: 'POST',
        path: '/api/v1/device/heartbeat?x=1',
        timestamp: h['X-Timestamp'],
        nonce: h['X-Nonce'],
        deviceId: id,
        body,
      }),
    );

    const bodyHash = sha256Hex('{"side":"buy"}');
    const forwarded = await sign({
      url: `${base}/api/v1/device/me`,
      method: 'GET',
      headers: {
        'X-Forwarded-Method': 'POST',
        'X-Forwarded-Uri': '/orders?id=7',
        'X-Content-SHA256': bodyHash,
      },
    });
    const f = forwarded.headers;
    const canonical = ['POST', '/orders?id=7', f['X-Timestamp'], f['X-Nonce'], id, bodyHash].join(
      '\n',
    );
    expect(f['X-Signature']).toBe(hmac(secret, canonical).toString('base64'));
    expect(f['X-Nonce']).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });
});
