import type { FastifyInstance } from 'fastify';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** Set by the e2e project's globalSetup: where each app leaves what it answered. */
export const COVERAGE_DIR_ENV = 'API_COVERAGE_DIR';

/** `/api/v1/devices/:id` → `/api/v1/devices/{id}`, as the OpenAPI document writes it. */
export const toTemplate = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/** Collects every route as `METHOD /template` while the app registers them. */
export function recordRoutes(fastify: FastifyInstance): string[] {
  const routes: string[] = [];
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push(`${method} ${toTemplate(route.url)}`);
  });
  return routes;
}

/**
 * Records `METHOD /template STATUS` of every answer a routed request got;
 * `save()` appends them to this run's coverage file, which the e2e project's
 * globalTeardown compares with the OpenAPI document.
 */
export function recordResponses(fastify: FastifyInstance): { save(): void } {
  const seen = new Set<string>();
  fastify.addHook('onResponse', (request, reply, done) => {
    const url = request.routeOptions.url;
    // An HTTP/1.1 request without Host is refused by the HTTP layer whatever
    // the route; the document says so once, in its description.
    const refusedByHttp = request.raw.httpVersion === '1.1' && !request.headers.host;
    if (url && !refusedByHttp) seen.add(`${request.method} ${toTemplate(url)} ${reply.statusCode}`);
    done();
  });
  return {
    save() {
      const dir = process.env[COVERAGE_DIR_ENV];
      if (dir && seen.size > 0)
        appendFileSync(join(dir, `${process.pid}.txt`), [...seen].join('\n') + '\n');
    },
  };
}
