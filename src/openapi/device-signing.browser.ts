/**
 * Signs Swagger UI's "Try it out" requests as a device, in the browser. Served
 * as a file (/docs/device-signing.js, not inline, so a CSP with
 * `script-src 'self'` allows it): the function below is sent as its source
 * text, so it must not use anything outside its own body.
 *
 * A request is signed when the operation it targets (found in the document by
 * method and path template) has the device security scheme and the explorer
 * has authorized that scheme with the device id (user name) and secret
 * (password); so a new device route (forward auth's verify endpoint too) is
 * signed as soon as it is documented. The secret never leaves the browser: the Basic credentials that
 * Swagger UI would send are removed, and X-Device-Id, X-Timestamp, X-Nonce,
 * X-Content-SHA256 (with a body) and X-Signature are set with WebCrypto.
 */
export function installDeviceSigning(scheme: string): void {
  interface SwaggerRequest {
    url: string;
    method: string;
    headers: Record<string, string>;
    body?: unknown;
  }
  interface Operation {
    security?: Record<string, string[]>[];
  }
  interface Spec {
    paths?: Record<string, Record<string, Operation>>;
    security?: Record<string, string[]>[];
  }
  interface SwaggerUi {
    specSelectors: { specJson(): { toJS(): Spec } };
    authSelectors: {
      authorized(): {
        toJS(): Record<string, { value?: { username?: string; password?: string } }>;
      };
    };
  }
  const w = globalThis as unknown as {
    ui?: SwaggerUi;
    location: { href: string };
    btoa(s: string): string;
    deviceRegistrySign?: (req: SwaggerRequest) => Promise<SwaggerRequest>;
  };
  const subtle = globalThis.crypto.subtle;
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const hex = (b: ArrayBuffer) =>
    Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const base64 = (b: ArrayBuffer | Uint8Array) => w.btoa(String.fromCharCode(...new Uint8Array(b)));

  function operationOf(spec: Spec, method: string, pathname: string): Operation | undefined {
    const segments = pathname.split('/');
    for (const [template, item] of Object.entries(spec.paths ?? {})) {
      const parts = template.split('/');
      const matches =
        parts.length === segments.length &&
        parts.every((p, i) => (p.startsWith('{') ? segments[i] !== '' : p === segments[i]));
      if (matches && item[method.toLowerCase()]) return item[method.toLowerCase()];
    }
    return undefined;
  }

  w.deviceRegistrySign = async (req) => {
    const ui = w.ui;
    if (!ui) return req;
    const spec = ui.specSelectors.specJson().toJS();
    const url = new URL(req.url, w.location.href);
    const operation = operationOf(spec, req.method, url.pathname);
    const security = operation?.security ?? spec.security ?? [];
    if (!security.some((requirement) => scheme in requirement)) return req;
    const credentials = ui.authSelectors.authorized().toJS()[scheme]?.value;
    for (const name of Object.keys(req.headers)) {
      if (name.toLowerCase() === 'authorization') delete req.headers[name];
    }
    if (!credentials?.username || !credentials.password) return req;

    if (req.body != null && typeof req.body !== 'string') req.body = JSON.stringify(req.body);
    const body = (req.body as string | undefined) ?? '';
    const header = (name: string) =>
      Object.entries(req.headers).find(([k]) => k.toLowerCase() === name)?.[1] || undefined;
    // Forward auth: a request that describes another one (X-Forwarded-Method
    // and -Uri, or nginx's X-Original-*) is signed as that one, over the body
    // hash given in X-Content-SHA256 (proxies do not pass bodies).
    const method = header('x-forwarded-method') ?? header('x-original-method') ?? req.method;
    const target =
      header('x-forwarded-uri') ?? header('x-original-uri') ?? url.pathname + url.search;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = base64(globalThis.crypto.getRandomValues(new Uint8Array(18)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    const bodyHash = header('x-content-sha256') ?? hex(await subtle.digest('SHA-256', utf8(body)));
    const canonical = [
      method.toUpperCase(),
      target,
      timestamp,
      nonce,
      credentials.username,
      bodyHash,
    ].join('\n');
    const key = await subtle.importKey(
      'raw',
      utf8(credentials.password),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    req.headers['X-Device-Id'] = credentials.username;
    req.headers['X-Timestamp'] = timestamp;
    req.headers['X-Nonce'] = nonce;
    if (body !== '' && !header('x-content-sha256')) req.headers['X-Content-SHA256'] = bodyHash;
    req.headers['X-Signature'] = base64(await subtle.sign('HMAC', key, utf8(canonical)));
    return req;
  };
}

/** Swagger UI's requestInterceptor; sent as source text into swagger-ui-init.js. */
export function requestInterceptor(req: unknown): unknown {
  const sign = (globalThis as { deviceRegistrySign?: (r: unknown) => Promise<unknown> })
    .deviceRegistrySign;
  return sign ? sign(req) : req;
}
