import * as argon2 from 'argon2';

/** OWASP's argon2id parameters (19 MiB, 2 passes, 1 lane). Hashing runs on libuv's pool, off the event loop. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** A hash of a random password nobody knows: verifying against it costs what a real check costs. */
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,p=1,t=2$BDqQ5vLubA6I+LnebhGsOw$r5EtVG2gHbTQ/AUer1TExOVb1073g7LynM116raUjeM';

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/** Verifies against `hash`, or against a dummy hash when there is no user, so both failures take as long. */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  try {
    const ok = await argon2.verify(hash ?? DUMMY_HASH, password);
    return ok && hash !== undefined;
  } catch {
    return false;
  }
}
