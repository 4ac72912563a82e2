import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { tooManyRequests, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { isDatabaseUnavailable } from '../common/database-errors';
import { RateLimitStore } from '../common/rate-limit.store';
import type { AuthUser } from './current-user.decorator';
import { IS_PUBLIC } from './public.decorator';

/** Requests one user may make to owner routes in a minute. */
export const OWNER_REQUESTS_PER_MINUTE = 600;

/**
 * Global guard: every route needs a bearer token unless marked @Public().
 * It also applies the per-user rate limit of the owner routes.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitStore,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    await super.canActivate(context);
    const user = context.switchToHttp().getRequest<{ user: AuthUser }>().user;
    const { count, retryAfter } = await this.limits.hit(`owner:${user.id}`, 60);
    if (count > OWNER_REQUESTS_PER_MINUTE) throw tooManyRequests(retryAfter);
    return true;
  }

  override handleRequest<T>(error: unknown, user: T | false): T {
    // A database that does not answer is no verdict on the token: the global
    // filter makes it a 503, so clients do not throw good tokens away.
    if (isDatabaseUnavailable(error)) throw error;
    if (error || !user)
      throw unauthorized(ErrorCode.Unauthorized, 'Missing, invalid or expired access token');
    return user;
  }
}
