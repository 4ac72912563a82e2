import { createServer } from 'node:net';
import { connectRedis } from './redis';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('connectRedis', () => {
  it('is null without a URL', async () => {
    expect(await connectRedis(undefined)).toBeNull();
  });

  // Jest would not exit if the failed client went on reconnecting.
  it('refuses a Redis that does not answer, naming REDIS_URL, and stops trying', async () => {
    const port = await closedPort();
    await expect(connectRedis(`redis://user:pw@127.0.0.1:${port}`)).rejects.toThrow(
      `REDIS_URL names a Redis that does not answer (127.0.0.1:${port}: connect ECONNREFUSED`,
    );
  });
});
