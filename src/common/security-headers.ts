import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The Content Security Policy is helmet's default (scripts only from this
 * origin, no inline script, no plugins, no framing by other sites), under
 * which Swagger UI at /docs works: its scripts are files served from here, its
 * inline styles are allowed by helmet's `style-src 'unsafe-inline'`. Without
 * `upgrade-insecure-requests`: TLS ends in front of the service, and a
 * plain-HTTP /docs on a private address would otherwise load nothing.
 */
const OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/** The headers helmet sets with these options; they are the same on every response. */
export function securityHeaders(options: HelmetOptions = OPTIONS): Record<string, string> {
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

/**
 * Computed once with helmet and set on every response by the app's onRequest
 * hook (app.setup.ts): `@fastify/helmet` rebuilds helmet from its options on
 * every request, which cost some 45 µs of CPU a request, as much as the rest
 * of `GET /health/live`.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = securityHeaders();
