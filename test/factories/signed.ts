import request from 'supertest';
import { signRequest } from '../../src/device-auth/signing';
import type { TestApp } from '../app';
import type { TestDevice } from './devices';
import { clientIp } from './users';

export interface SignedCall {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  path?: string;
  body?: string;
  timestamp?: number | string;
  nonce?: string;
  /** Sign with this secret instead of the device's. */
  secret?: string;
  /** Headers applied after signing (to tamper with them). */
  headers?: Record<string, string>;
  /** Send this body instead of the signed one. */
  sendBody?: string;
  /** Send to this target instead of the signed path. */
  sendPath?: string;
  sendMethod?: SignedCall['method'];
  ip?: string;
  /** Leave out the X-Content-SHA256 header the signer adds to a request with a body. */
  withoutContentSha256?: boolean;
}

/** A device request signed with the reference signer, sent through HTTP; each call gets its own client IP unless given one. */
export function signedRequest(
  t: TestApp,
  device: Pick<TestDevice, 'id' | 'secret'>,
  call: SignedCall = {},
) {
  const method = call.method ?? 'GET';
  const path = call.path ?? '/api/v1/device/me';
  const { 'X-Content-SHA256': contentSha256, ...headers } = signRequest({
    deviceId: device.id,
    secret: call.secret ?? device.secret,
    method,
    path,
    body: call.body,
    timestamp: call.timestamp,
    nonce: call.nonce,
  });
  const sendMethod = (call.sendMethod ?? method).toLowerCase() as
    'get' | 'post' | 'put' | 'delete' | 'patch';
  const agent = request(t.server);
  let req = agent[sendMethod](call.sendPath ?? path)
    .set(headers)
    .set('X-Forwarded-For', call.ip ?? clientIp());
  if (contentSha256 && !call.withoutContentSha256) req = req.set('X-Content-SHA256', contentSha256);
  if (call.headers) req = req.set(call.headers);
  const body = call.sendBody ?? call.body;
  if (body !== undefined) req = req.set('Content-Type', 'application/json').send(body);
  return req;
}

export const heartbeat = (body = '{"status":"ok"}'): SignedCall => ({
  method: 'POST',
  path: '/api/v1/device/heartbeat',
  body,
});
