import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { createSecretKey } from 'node:crypto';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { isUuid } from '../common/uuid';
import { authConfig, AuthConfig } from '../config/configuration';
import type { AuthUser } from './current-user.decorator';
import { UsersRepository } from './users.repository';

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
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
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
