import * as argon2 from 'argon2';

/**
 * argon2id with one of OWASP's equivalent parameter sets: 12 MiB, 3 passes,
 * 1 lane. Each of libuv's threads that has hashed keeps that memory (the C
 * library's per-thread arena), so the set with 19 MiB and 2 passes held
 * 38 MB for good after the first logins on two threads, and took 24 ms of CPU
 * a hash against 17 ms for this one. Hashing runs on libuv's pool, off the
 * event loop. A hash made with other parameters still verifies, and is
 * replaced at its next successful login (needsRehash).
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 12_288, timeCost: 3, parallelism: 1 } as const;

/** A hash of a random password nobody knows: verifying against it costs what a real check costs. */
const DUMMY_HASH =
  '$argon2id$v=19$m=12288,p=1,t=3$G2AOMVauT2CHpu6iHpdt6A$jKz1eSKmITRkQL7XyGOGTelhd468dIpvDUdrbEO53TE';

/** Thrown when the hashing queue is full: the caller answers 429 at once. */
export class HashingBusyError extends Error {
  constructor() {
    super('Password hashing queue is full');
    this.name = 'HashingBusyError';
  }
}

/**
 * Password hashing is the service's most expensive work (12 MiB and tens of
 * milliseconds of CPU each). At most `concurrency` hashes run at once and at
 * most `queueSize` wait; beyond that `run` fails at once with
 * HashingBusyError, so a flood of logins cannot starve the rest of the
 * service of memory and CPU, nor pile up waiting requests without bound.
 */
export class HashingQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queueSize: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueSize) throw new HashingBusyError();
      // The slot is handed over by the finishing task (running stays counted).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

export class PasswordHasher {
  constructor(private readonly queue: HashingQueue) {}

  hash(password: string): Promise<string> {
    return this.queue.run(() => argon2.hash(password, OPTIONS));
  }

  /** Whether `hash` was made with other parameters than the current ones. */
  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, OPTIONS);
  }

  /** Verifies against `hash`, or against a dummy hash when there is no user, so both failures take as long. */
  verify(hash: string | undefined, password: string): Promise<boolean> {
    return this.queue.run(async () => {
      try {
        const ok = await argon2.verify(hash ?? DUMMY_HASH, password);
        return ok && hash !== undefined;
      } catch {
        return false;
      }
    });
  }
}
