import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The pages of /docs (Swagger UI, its assets and the document it reads) get
 * helmet's defaults. Their Content Security Policy is helmet's default
 * (scripts only from this origin, no inline script, no plugins, no framing by
 * other sites), under which Swagger UI works: its scripts are files served
 * from here, its inline styles are allowed by helmet's `style-src
 * 'unsafe-inline'`. Without `upgrade-insecure-requests`: TLS ends in front of
 * the service, and a plain-HTTP /docs on a private address would otherwise
 * load nothing.
 */
const DOCUMENT_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/**
 * Every other answer is JSON, which a browser never renders as a page: it
 * gets the headers that still act on such a response (OWASP's set for REST
 * services) and a policy that allows nothing at all. The headers that only
 * act on documents (opener and agent-cluster isolation, referrer policy, DNS
 * prefetching, old IE and Flash switches, X-Frame-Options, which
 * `frame-ancestors` replaces) would be 450 bytes on every device answer.
 */
const API_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/** The headers helmet sets with these options; they are the same on every response. */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

/*
 * Computed once with helmet and set on every response by the app's onRequest
 * hook (app.setup.ts): `@fastify/helmet` rebuilds helmet from its options on
 * every request, which cost some 45 µs of CPU a request, as much as the rest
 * of `GET /health/live`.
 */
export const DOCUMENT_SECURITY_HEADERS: Readonly<Record<string, string>> =
  securityHeaders(DOCUMENT_OPTIONS);
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = securityHeaders(API_OPTIONS);

/** /docs, /docs/…, /docs-json and /docs-yaml: what Swagger UI loads. */
const DOCS = /^\/docs(?:$|[/?]|-json|-yaml)/;

export function securityHeadersFor(url: string): Readonly<Record<string, string>> {
  return DOCS.test(url) ? DOCUMENT_SECURITY_HEADERS : API_SECURITY_HEADERS;
}
