import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The committed openapi.json (openapi.e2e-spec.ts proves it is what the code
// generates), read by the suites that take their cases from it, so a newly
// documented route is tested without anyone adding it to a list.

export interface Schema {
  $ref?: string;
  allOf?: Schema[];
  properties?: Record<string, Schema & { example?: unknown }>;
  enum?: unknown[];
  example?: unknown;
}
export interface Response {
  headers?: Record<string, { $ref?: string }>;
  content?: Record<string, { schema?: Schema; example?: unknown }>;
}
export interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string }[];
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<string, Response>;
}
export interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export const OPENAPI_FILE = join(__dirname, '..', '..', 'openapi.json');
export const doc = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;

/** Every operation of the document, named `method /path` (method in lower case). */
export const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ path, method, op, name: `${method} ${path}` })),
);
export type Op = (typeof operations)[number];

const schemes = (op: Operation) => (op.security ?? []).flatMap((s) => Object.keys(s));
export const isOwnerRoute = (o: Op) => schemes(o.op).includes('bearer');
export const isDeviceRoute = (o: Op) => schemes(o.op).includes('deviceSignature');
export const documents = (o: Op, status: number) => o.op.responses[String(status)] !== undefined;
export const withId = (o: Op) => o.path.includes('{id}');
/** The owner routes that address one device: the ownership guard's routes. */
export const isOneDeviceRoute = (o: Op) =>
  isOwnerRoute(o) && /^\/api\/v1\/devices\/\{id\}(\/|$)/.test(o.path);

export const fill = (o: Op, id: string) => o.path.replace('{id}', id);

/** A request body made of the examples the document shows; undefined for a route without one. */
export function exampleBody(o: Op): Record<string, unknown> | undefined {
  const ref = o.op.requestBody?.content['application/json']?.schema.$ref;
  if (!o.op.requestBody) return undefined;
  const schema = ref ? doc.components.schemas[ref.split('/').pop()!] : undefined;
  return Object.fromEntries(
    Object.entries(schema?.properties ?? {}).map(([k, p]) => [k, p.example]),
  );
}
