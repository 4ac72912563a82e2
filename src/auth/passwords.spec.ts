import { HashingBusyError, HashingQueue, PasswordHasher } from './passwords';

describe('HashingQueue', () => {
  it('runs at most `concurrency` at once, queues `queueSize`, and refuses the rest at once', async () => {
    const queue = new HashingQueue(2, 3);
    let running = 0;
    let peak = 0;
    const work = () =>
      queue.run(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return 'done';
      });
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 8 }, work));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    expect(refused).toHaveLength(3);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(HashingBusyError);
    expect(peak).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80); // three rounds of 30 ms
    expect(queue.active).toBe(0);
    expect(queue.queued).toBe(0);
  });

  it('frees its slot when the work fails', async () => {
    const queue = new HashingQueue(1, 0);
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(queue.run(() => Promise.resolve(1))).resolves.toBe(1);
  });

  it('caps real argon2 work: with one slot and no queue, a second hash is refused while the first runs', async () => {
    const hasher = new PasswordHasher(new HashingQueue(1, 0));
    const first = hasher.hash('correct horse battery staple');
    await expect(hasher.verify(undefined, 'anything')).rejects.toBeInstanceOf(HashingBusyError);
    const hash = await first;
    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'wrong')).resolves.toBe(false);
    await expect(hasher.verify(undefined, 'wrong')).resolves.toBe(false);
  });
});
