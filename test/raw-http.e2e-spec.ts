import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp, TestApp } from './app';

// Inputs HTTP clients cannot send, over raw sockets: what Node's HTTP parser
// refuses and bodies that never arrive whole. Every answer has the contract's
// error body, and no connection is held for ever.

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connecting until the server closed the connection. */
  closedAfterMs: number;
}

/** Sends `chunks` (a delay in ms between them, if given) and reads until the server closes. */
function rawRequest(
  port: number,
  chunks: (string | Buffer)[],
  { gapMs = 0, timeoutMs = 15_000 } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(received).toString()}`),
      );
    }, timeoutMs);
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      const text = Buffer.concat(received).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body: rest.join('\r\n\r\n'),
        closedAfterMs: Date.now() - started,
      });
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (closed) return;
        socket.write(chunk);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

function expectContractError(res: RawResponse, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body).toMatchObject({ statusCode: status, code });
  expect(typeof body.message).toBe('string');
  // A request id and the security headers, as on every answer.
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(res.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
  expect(res.headers['x-content-type-options']).toBe('nosniff');
}

describe('raw HTTP (e2e)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({
      env: { REQUEST_TIMEOUT_MS: '1500', CONNECTION_TIMEOUT_MS: '2000' },
    });
    await new Promise<void>((resolve) => t.server.listen(0, '127.0.0.1', resolve));
    port = (t.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => t.server.close(resolve));
    await t.close();
  });

  const post = (contentLength: number) =>
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${contentLength}\r\n\r\n`;

  describe('bodies that do not arrive', () => {
    it('answers a body trickled one byte at a time with 408 and closes, within REQUEST_TIMEOUT_MS', async () => {
      const body = '{"email":"a@example.com","password":"trickled-password"}';
      const chunks = [post(body.length), ...body.split('')];
      const res = await rawRequest(port, chunks, { gapMs: 500 });
      expectContractError(res, 408, 'request_timeout');
      // 1.5 s, checked every second: well before the 28 s the trickle would take.
      expect(res.closedAfterMs).toBeLessThan(5000);
    });

    it('answers a body shorter than its Content-Length with 408 and closes', async () => {
      const res = await rawRequest(port, [post(100), '{"email":"a@']);
      expectContractError(res, 408, 'request_timeout');
      expect(res.closedAfterMs).toBeLessThan(5000);
    });

    it('closes a connection that never sends anything', async () => {
      const res = await rawRequest(port, []);
      expect(res.closedAfterMs).toBeLessThan(5000);
    });

    it('still answers a request that arrives in time', async () => {
      const res = await rawRequest(port, [
        'GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      ]);
      expect(res.status).toBe(200);
    });
  });

  describe('requests the HTTP parser refuses', () => {
    it('answers a garbage request line with 400 validation_failed', async () => {
      for (const line of [
        'GARBAGE\r\n\r\n',
        'GET / HTTP/9.9\r\n\r\n',
        '\x00\x01\x02 / HTTP/1.1\r\n\r\n',
      ]) {
        expectContractError(await rawRequest(port, [line]), 400, 'validation_failed');
      }
    });

    it('answers headers over 16 KiB with 431 headers_too_large', async () => {
      const res = await rawRequest(port, [
        `GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
      ]);
      expectContractError(res, 431, 'headers_too_large');
    });

    it('answers an HTTP/1.1 request without Host with 400 validation_failed', async () => {
      const res = await rawRequest(port, ['GET /health/live HTTP/1.1\r\n\r\n']);
      expectContractError(res, 400, 'validation_failed');
      // HTTP/1.0 needs no Host.
      const old = await rawRequest(port, ['GET /health/live HTTP/1.0\r\n\r\n']);
      expect(old.status).toBe(200);
    });

    it('answers a badly percent-encoded URL with 400 validation_failed', async () => {
      const res = await rawRequest(port, [
        'GET /api/v1/devices/%ff HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      ]);
      expectContractError(res, 400, 'validation_failed');
    });
  });
});
