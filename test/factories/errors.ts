import type { Response } from 'supertest';

const ERROR_KEYS = ['code', 'error', 'message', 'statusCode'];

/**
 * Asserts the contract's error body: exactly `{statusCode, error, message, code}`,
 * with the given status and code and a non-empty message.
 */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(Object.keys(res.body).sort()).toEqual(ERROR_KEYS);
  expect(res.body.statusCode).toBe(status);
  expect(typeof res.body.error).toBe('string');
  expect(res.body.error.length).toBeGreaterThan(0);
  const { message } = res.body as { message: unknown };
  if (Array.isArray(message)) {
    expect(message.length).toBeGreaterThan(0);
    for (const m of message) expect(typeof m).toBe('string');
  } else {
    expect(typeof message).toBe('string');
    expect((message as string).length).toBeGreaterThan(0);
  }
  expect(res.headers['content-type']).toMatch(/^application\/json/);
}
