import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { REQUIRED_SCOPES_HEADER } from './forwarded-request.decorator';

// The Traefik and Envoy examples cannot run here (test/forward-auth-proxies
// runs nginx and Caddy): these checks read them as those proxies would, and
// follow a request to the scoped route and to any other.

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const VERIFY = '/api/v1/device-auth/verify';
const SCOPED_PATH = '/api/trades/open';
const OTHER_PATH = '/api/quotes';
/** What the device sends besides its signed request's method and target. */
const DEVICE_HEADERS = ['x-device-id', 'x-timestamp', 'x-nonce', 'x-signature', 'x-content-sha256'];
/** What the registry answers for the upstream. */
const IDENTITY_HEADERS = ['x-device-id', 'x-device-owner-id', 'x-device-name', 'x-device-scopes'];

// Parsed YAML, walked along the paths the proxies read.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = any;

function example(file: string): { text: string; config: Yaml } {
  const text = readFileSync(join(ROOT, 'examples', 'proxies', file), 'utf8');
  return { text, config: load(text) };
}

const lower = (names: string[]) => names.map((n) => n.toLowerCase());

describe('the Traefik example', () => {
  const { text, config } = example('traefik.yml');
  const { routers, middlewares } = config.http;

  /** Traefik's default priority: the longest rule among those that match. */
  function routerFor(path: string) {
    const matching = Object.values<Yaml>(routers).filter((r) => {
      const prefix = /^PathPrefix\(`([^`]*)`\)$/.exec(r.rule)?.[1];
      expect(prefix).toBeDefined();
      return path.startsWith(prefix!);
    });
    return matching.sort((a, b) => b.rule.length - a.rule.length)[0];
  }

  /** The headers the registry gets for a request to `path` carrying `client` headers. */
  function authRequest(path: string, client: Record<string, string>) {
    const headers = new Map(Object.entries(client).map(([k, v]) => [k.toLowerCase(), v]));
    const chain: Yaml[] = routerFor(path).middlewares.map((name: string) => middlewares[name]);
    const authAt = chain.findIndex((m) => m.forwardAuth);
    expect(authAt).toBeGreaterThanOrEqual(0);
    const auth = chain[authAt];
    // The middlewares run in order: what those before forwardAuth set reaches it.
    for (const middleware of chain.slice(0, authAt)) {
      const custom = middleware.headers?.customRequestHeaders ?? {};
      for (const [k, v] of Object.entries<string>(custom)) {
        if (v === '') headers.delete(k.toLowerCase());
        else headers.set(k.toLowerCase(), v);
      }
    }
    const allowed = lower(auth.forwardAuth.authRequestHeaders);
    return {
      address: auth.forwardAuth.address as string,
      responseHeaders: lower(auth.forwardAuth.authResponseHeaders),
      headers: new Map([...headers].filter(([k]) => allowed.includes(k))),
    };
  }

  it('is the configuration the README shows', () => {
    expect(README.includes(text)).toBe(true);
  });

  it('sends the scoped route’s X-Required-Scopes to the verify endpoint, replacing a client’s', () => {
    const req = authRequest(SCOPED_PATH, { 'X-Required-Scopes': '' });
    expect(new URL(req.address).pathname).toBe(VERIFY);
    expect(req.headers.get(REQUIRED_SCOPES_HEADER)).toBe('trades:write');
  });

  it('sends no X-Required-Scopes for another route, even when a client sends one', () => {
    const req = authRequest(OTHER_PATH, { 'X-Required-Scopes': 'nothing:real' });
    expect(new URL(req.address).pathname).toBe(VERIFY);
    expect(req.headers.has(REQUIRED_SCOPES_HEADER)).toBe(false);
  });

  it('passes the device headers to the registry and its answer to the upstream', () => {
    const client = Object.fromEntries(DEVICE_HEADERS.map((h) => [h, 'x']));
    for (const path of [SCOPED_PATH, OTHER_PATH]) {
      const req = authRequest(path, { ...client, 'X-Original-Method': 'GET' });
      expect([...req.headers.keys()]).toEqual(expect.arrayContaining(DEVICE_HEADERS));
      // The other convention, which only a client could have sent, stays behind.
      expect(req.headers.has('x-original-method')).toBe(false);
      expect(req.responseHeaders).toEqual(expect.arrayContaining(IDENTITY_HEADERS));
    }
  });
});

describe('the Envoy example', () => {
  const { text, config } = example('envoy.yaml');
  const hcm = config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const filters: Yaml[] = hcm.http_filters;
  const routes: Yaml[] = hcm.route_config.virtual_hosts[0].routes;
  const extAuthzAt = filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz');
  const extAuthz = filters[extAuthzAt].typed_config.http_service;

  /** Applies header_mutation request mutations as Envoy does. */
  function mutate(headers: Map<string, string>, mutations: Yaml[] = []) {
    for (const m of mutations) {
      if (m.remove) headers.delete(m.remove);
      else {
        expect(m.append.append_action).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
        headers.set(m.append.header.key, m.append.header.value);
      }
    }
  }

  /** The headers ext_authz sends to the registry for a request to `path`. */
  function authRequest(path: string, client: Record<string, string>) {
    const headers = new Map(Object.entries(client).map(([k, v]) => [k.toLowerCase(), v]));
    // The first route that matches; its per-route configuration, by filter name.
    const route = routes.find((r) => path.startsWith(r.match.prefix));
    for (const filter of filters.slice(0, extAuthzAt)) {
      expect(filter.typed_config['@type']).toMatch(/header_mutation\.v3\.HeaderMutation$/);
      mutate(headers, filter.typed_config.mutations?.request_mutations);
      const perRoute = route.typed_per_filter_config?.[filter.name];
      if (perRoute) {
        expect(perRoute['@type']).toMatch(/header_mutation\.v3\.HeaderMutationPerRoute$/);
        mutate(headers, perRoute.mutations.request_mutations);
      }
    }
    const allowed = extAuthz.authorization_request.allowed_headers.patterns.map(
      (p: { exact: string }) => p.exact,
    );
    return new Map([...headers].filter(([k]) => allowed.includes(k)));
  }

  it('is the configuration the README shows', () => {
    expect(README.includes(text)).toBe(true);
  });

  it('configures only filters that exist, per route', () => {
    for (const route of routes)
      for (const name of Object.keys(route.typed_per_filter_config ?? {}))
        expect(filters.map((f) => f.name)).toContain(name);
    expect(extAuthz.path_override).toBe(VERIFY);
  });

  it('sends the scoped route’s X-Required-Scopes to the verify endpoint, replacing a client’s', () => {
    const headers = authRequest(SCOPED_PATH, { 'X-Required-Scopes': '' });
    expect(headers.get(REQUIRED_SCOPES_HEADER)).toBe('trades:write');
  });

  it('sends no X-Required-Scopes for another route, even when a client sends one', () => {
    const headers = authRequest(OTHER_PATH, { 'X-Required-Scopes': 'nothing:real' });
    expect(headers.has(REQUIRED_SCOPES_HEADER)).toBe(false);
  });

  it('passes the device headers and the original request to the registry, and its answer to the upstream', () => {
    const client = Object.fromEntries(DEVICE_HEADERS.map((h) => [h, 'x']));
    for (const path of [SCOPED_PATH, OTHER_PATH]) {
      const headers = authRequest(path, { ...client, 'X-Device-Scopes': 'trades:write' });
      expect([...headers.keys()]).toEqual(expect.arrayContaining(DEVICE_HEADERS));
      expect(headers.has('x-original-method')).toBe(true);
      expect(headers.has('x-original-uri')).toBe(true);
    }
    const upstream = extAuthz.authorization_response.allowed_upstream_headers.patterns.map(
      (p: { exact: string }) => p.exact,
    );
    expect(upstream).toEqual(expect.arrayContaining(IDENTITY_HEADERS));
  });
});
