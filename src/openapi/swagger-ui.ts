import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { DEVICE_SIGNATURE_SCHEME } from '../device-auth/device-auth.decorator';
import { installDeviceSigning, requestInterceptor } from './device-signing.browser';

export const DEVICE_SIGNING_SCRIPT_PATH = '/docs/device-signing.js';
const DEVICE_SIGNING_SCRIPT = `(${installDeviceSigning.toString()})(${JSON.stringify(DEVICE_SIGNATURE_SCHEME)});\n`;

const UI_DEVICE_SCHEME = {
  type: 'http',
  scheme: 'basic',
  description:
    'Enter the device id as user name and the device secret (`dvs_…`) as password. This page then signs ' +
    'each request to a device route in your browser (X-Timestamp, X-Nonce, X-Content-SHA256, X-Signature, ' +
    'computed with WebCrypto): the secret stays in this browser and is never sent, not even as Basic ' +
    'credentials. Authorizations are kept in this browser’s local storage until you log out here. ' +
    'WebCrypto needs https or localhost.',
} as const;

/**
 * /docs (Swagger UI), /docs-json and /docs-yaml. The UI's copy of the document
 * presents the device scheme as a user name and password, which is what the
 * explorer types in; the published document keeps the real scheme.
 */
export function setupDocs(app: NestFastifyApplication, document: () => OpenAPIObject): void {
  const forUi = () => {
    const doc = structuredClone(document());
    doc.components!.securitySchemes![DEVICE_SIGNATURE_SCHEME] = UI_DEVICE_SCHEME;
    return doc;
  };
  SwaggerModule.setup('docs', app, forUi, {
    raw: false,
    customSiteTitle: 'Device Registry API',
    customJs: DEVICE_SIGNING_SCRIPT_PATH,
    swaggerOptions: { persistAuthorization: true, requestInterceptor },
  });
  SwaggerModule.setup('docs', app, document, {
    ui: false,
    raw: ['json', 'yaml'],
    jsonDocumentUrl: 'docs-json',
  });
  app
    .getHttpAdapter()
    .getInstance()
    .get(DEVICE_SIGNING_SCRIPT_PATH, (_request, reply) => {
      void reply.type('text/javascript; charset=utf-8').send(DEVICE_SIGNING_SCRIPT);
    });
}
