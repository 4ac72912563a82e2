import * as argon2 from 'argon2';

/** OWASP's argon2id parameters (19 MiB, 2 passes, 1 lane). Hashing runs on libuv's pool, off the event loop. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** A hash of a random password nobody knows: verifying against it costs what a real check costs. */
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,p=1,t=2$BDqQ5vLubA6I+LnebhGsOw$r5EtVG2gHbTQ/AUer1TExOVb1073g7LynM116raUjeM';

/** Thrown when the hashing queue is full: the caller answers 429 at once. */
export class HashingBusyError extends Error {
  constructor() {
    super('Password hashing queue is full');
    this.name = 'HashingBusyError';
  }
}

/**
 * Password hashing is the service's most expensive work (19 MiB and tens of
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
