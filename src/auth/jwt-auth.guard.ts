import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { tooManyRequests, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { isDatabaseUnavailable } from '../common/database-errors';
import { RateLimitStore } from '../common/rate-limit.store';
import { RouteMetadata } from '../common/route-metadata';
import { authConfig, AuthConfig } from '../config/configuration';
import type { AuthUser } from './current-user.decorator';
import { IS_PUBLIC } from './public.decorator';

/**
 * Global guard: every route needs a bearer token unless marked @Public().
 * It also applies the per-user rate limit of the owner routes
 * (OWNER_REQUESTS_PER_MINUTE).
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimitStore,
    @Inject(authConfig.KEY) private readonly cfg: AuthConfig,
  ) {
    super();
  }

  /** Whether the route is @Public(), on its handler or its controller. */
  private readonly isPublic = new RouteMetadata(
    (handler, controller) =>
      this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [handler, controller]) ===
      true,
  );

  /** Synchronous on public routes: they skip the promise an async guard costs on each request. */
  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return this.isPublic.of(context) || this.authenticate(context);
  }

  private async authenticate(context: ExecutionContext): Promise<boolean> {
    await super.canActivate(context);
    const user = context.switchToHttp().getRequest<{ user: AuthUser }>().user;
    const { count, retryAfter } = await this.limits.hit(`owner:${user.id}`, 60);
    if (count > this.cfg.ownerRequestsPerMinute) throw tooManyRequests(retryAfter);
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
