import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { createSecretKey } from 'node:crypto';
import { Strategy } from 'passport-jwt';
import { isUuid } from '../common/uuid';
import { authConfig, AuthConfig } from '../config/configuration';
import type { AuthUser } from './current-user.decorator';
import { UsersRepository } from './users.repository';

/**
 * `Authorization: Bearer <token>` and nothing else: exactly one token of JWT
 * characters after one space. passport-jwt's own extractor takes the first
 * word after the scheme and ignores whatever follows.
 */
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;

export function bearerToken(req: { headers: Record<string, string | string[] | undefined> }) {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return null;
  return BEARER.exec(header)?.[1] ?? null;
}

interface JwtPayload {
  sub: string;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy) {
  constructor(
    @Inject(authConfig.KEY) cfg: AuthConfig,
    private readonly users: UsersRepository,
  ) {
    super({
      jwtFromRequest: bearerToken,
      // A KeyObject, not a string: jsonwebtoken would otherwise try to parse
      // the string as a PEM key on every verification.
      secretOrKey: createSecretKey(Buffer.from(cfg.jwtSecret)) as unknown as string,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  /** A token outlives nothing: the user must still exist. */
  async validate(payload: JwtPayload): Promise<AuthUser | false> {
    if (!isUuid(payload.sub)) return false;
    const user = await this.users.findById(payload.sub);
    return user ? { id: user.id, email: user.email, createdAt: user.createdAt } : false;
  }
}
