import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** The authenticated owner, as the JWT strategy put it on the request. */
export interface AuthUser {
  id: string;
  email: string;
  createdAt: Date;
}

export const CurrentUser = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): AuthUser =>
    ctx.switchToHttp().getRequest<{ user: AuthUser }>().user,
);
