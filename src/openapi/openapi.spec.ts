import type { OpenAPIObject } from '@nestjs/swagger';
import { codesIn } from '../common/api-docs';
import { finishDocument } from './openapi';

const codeEnum = (doc: OpenAPIObject, path: string, method: 'get' | 'post', status: number) =>
  (
    doc.paths[path][method]!.responses[status] as {
      content: Record<
        string,
        { schema: { allOf: { properties?: { code?: { enum: string[] } } }[] } }
      >;
    }
  ).content['application/json'].schema.allOf[1].properties!.code!.enum;

describe('OpenAPI document rules', () => {
  it('reads the error codes a description names, and refuses a word that is no code', () => {
    expect(codesIn('`device_name_taken`, or `device_revoked`; see `Retry-After`')).toEqual([
      'device_name_taken',
      'device_revoked',
    ]);
    expect(() => codesIn('`device_name_takn`')).toThrow(/device_name_takn/);
  });

  it('gives owner routes 401 and 429, routes with a body 400, 413 and 415, public routes no scheme', () => {
    const doc = finishDocument({
      openapi: '3.0.0',
      info: { title: 't', version: '1' },
      paths: {
        '/owned': { get: { operationId: 'getOwned', security: [{ bearer: [] }], responses: {} } },
        '/open': {
          post: {
            operationId: 'verify_post',
            requestBody: { content: { 'application/json': { schema: {} } } },
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    });
    const owned = doc.paths['/owned'].get!;
    expect(Object.keys(owned.responses)).toEqual(['401', '429', '503']);
    expect(codeEnum(doc, '/owned', 'get', 429)).toEqual(['rate_limited']);
    expect(owned.responses['429']).toMatchObject({
      headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } },
    });
    const open = doc.paths['/open'].post!;
    expect(open.security).toEqual([]);
    expect(open.operationId).toBe('verifyPost');
    expect(Object.keys(open.responses)).toEqual(['200', '400', '413', '415']);
    expect(codeEnum(doc, '/open', 'post', 415)).toEqual(['unsupported_media_type']);
    for (const response of Object.values(open.responses)) {
      expect(response).toMatchObject({
        headers: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } },
      });
    }
  });
});
