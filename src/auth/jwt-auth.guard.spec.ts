import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { ApiError } from '../common/api-error';
import { MemoryRateLimitStore } from '../common/rate-limit.store';
import type { AuthUser } from './current-user.decorator';
import { JwtAuthGuard } from './jwt-auth.guard';
import { Public } from './public.decorator';

class OwnerController {
  list(): void {}
}

class HealthController {
  @Public()
  live(): void {}
}

@Public()
class DocsController {
  json(): void {}
}

/** One handler function under a public and an unmarked controller. */
class SharedHandlers {
  list(): void {}
}
@Public()
class PublicShared extends SharedHandlers {}
class OwnerShared extends SharedHandlers {}

interface FakeRequest {
  headers: Record<string, string>;
  user?: AuthUser;
}

function contextFor(
  controller: new () => object,
  handler: string,
  req: FakeRequest = { headers: {} },
): ExecutionContext {
  return {
    getClass: () => controller,
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({}) }),
  } as unknown as ExecutionContext;
}

const userFor = (id = randomUUID()): AuthUser => ({
  id,
  email: `${id}@example.com`,
  createdAt: new Date(),
});

// The passport half of the guard (AuthGuard('jwt')) is the parent's canActivate.
const passportCanActivate = () =>
  jest.spyOn(
    Object.getPrototypeOf(JwtAuthGuard.prototype) as { canActivate: JwtAuthGuard['canActivate'] },
    'canActivate',
  );

/** Not the default (600), so the test shows the configured value is the one applied. */
const OWNER_REQUESTS_PER_MINUTE = 37;

describe('JwtAuthGuard', () => {
  let limits: MemoryRateLimitStore;
  let guard: JwtAuthGuard;

  beforeEach(() => {
    limits = new MemoryRateLimitStore();
    guard = new JwtAuthGuard(new Reflector(), limits, {
      jwtSecret: 'unused',
      jwtExpiresIn: 900,
      ownerRequestsPerMinute: OWNER_REQUESTS_PER_MINUTE,
      hashConcurrency: 1,
      hashQueue: 1,
    });
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await limits.close();
  });

  describe('@Public()', () => {
    it('lets a public handler through at once, without a token and without passport', () => {
      const passport = passportCanActivate();

      expect(guard.canActivate(contextFor(HealthController, 'live'))).toBe(true);
      expect(passport).not.toHaveBeenCalled();
    });

    it('lets every handler of a public controller through', () => {
      const passport = passportCanActivate();

      expect(guard.canActivate(contextFor(DocsController, 'json'))).toBe(true);
      expect(passport).not.toHaveBeenCalled();
    });

    it('judges a handler shared by two controllers by the controller it is reached through', async () => {
      const passport = passportCanActivate().mockImplementation(() => {
        throw guard.handleRequest(null, false);
      });

      expect(guard.canActivate(contextFor(PublicShared, 'list'))).toBe(true);
      await expect(guard.canActivate(contextFor(OwnerShared, 'list'))).rejects.toMatchObject({
        code: 'unauthorized',
      });
      expect(guard.canActivate(contextFor(PublicShared, 'list'))).toBe(true);
      expect(passport).toHaveBeenCalledTimes(1);
    });

    it('sends an unmarked route to passport, whose refusal stands', async () => {
      const passport = passportCanActivate().mockImplementation(() => {
        throw guard.handleRequest(null, false);
      });

      await expect(guard.canActivate(contextFor(OwnerController, 'list'))).rejects.toMatchObject({
        code: 'unauthorized',
      });
      expect(passport).toHaveBeenCalledTimes(1);
    });
  });

  describe('handleRequest', () => {
    it.each([
      ['no user', null, false],
      ['a null user', null, null],
      ['an error', new Error('jwt expired'), userFor()],
      ['an error and no user', new Error('invalid signature'), false],
    ])('throws 401 unauthorized for %s', (_label, error, user) => {
      let caught: unknown;
      try {
        guard.handleRequest(error, user as AuthUser | false);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ApiError);
      expect((caught as ApiError).getStatus()).toBe(401);
      expect((caught as ApiError).code).toBe('unauthorized');
      // The passport error's own text is not what the client sees.
      expect(JSON.stringify((caught as ApiError).getResponse())).not.toMatch(
        /jwt expired|signature/,
      );
    });

    it('passes a database outage on (the filter makes it a 503), never a 401', () => {
      const outage = new Error('timeout exceeded when trying to connect');
      expect(() => guard.handleRequest(outage, false)).toThrow(outage);
      const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      expect(() => guard.handleRequest(refused, false)).toThrow(refused);
    });

    it('returns the user when there is one and no error', () => {
      const user = userFor();
      expect(guard.handleRequest(null, user)).toBe(user);
    });
  });

  describe('per-user rate limit', () => {
    function authenticateAs(user: AuthUser) {
      passportCanActivate().mockImplementation(function (context: ExecutionContext) {
        context.switchToHttp().getRequest<FakeRequest>().user = user;
        return Promise.resolve(true);
      });
    }

    it(`allows OWNER_REQUESTS_PER_MINUTE requests a minute and answers the next with 429 and Retry-After`, async () => {
      const user = userFor();
      authenticateAs(user);
      const ctx = contextFor(OwnerController, 'list');

      for (let i = 1; i <= OWNER_REQUESTS_PER_MINUTE; i++) {
        await expect(guard.canActivate(ctx)).resolves.toBe(true);
      }
      const error = await Promise.resolve(guard.canActivate(ctx)).then(
        () => undefined,
        (e: unknown) => e as ApiError,
      );

      expect(error).toBeInstanceOf(ApiError);
      expect(error!.getStatus()).toBe(429);
      expect(error!.code).toBe('rate_limited');
      const retryAfter = Number(error!.headers['Retry-After']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    });

    it('counts each user separately', async () => {
      const busy = userFor();
      const other = userFor();
      for (let i = 0; i < OWNER_REQUESTS_PER_MINUTE; i++) await limits.hit(`owner:${busy.id}`, 60);

      authenticateAs(other);
      await expect(guard.canActivate(contextFor(OwnerController, 'list'))).resolves.toBe(true);

      jest.restoreAllMocks();
      authenticateAs(busy);
      await expect(guard.canActivate(contextFor(OwnerController, 'list'))).rejects.toMatchObject({
        code: 'rate_limited',
      });
    });

    it('does not count public routes', async () => {
      const ctx = contextFor(HealthController, 'live', { headers: {}, user: userFor() });
      const hit = jest.spyOn(limits, 'hit');

      await guard.canActivate(ctx);
      expect(hit).not.toHaveBeenCalled();
    });
  });
});
