import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { badRequest, conflict, tooManyRequests, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { RateLimitStore } from '../common/rate-limit.store';
import { authConfig, AuthConfig } from '../config/configuration';
import { isCommonPassword } from './common-passwords';
import { CredentialsDto } from './dto/credentials.dto';
import { TokenResponseDto, UserResponseDto } from './dto/user-response.dto';
import { hashPassword, verifyPassword } from './passwords';
import { UsersRepository } from './users.repository';

/** Failed logins allowed per (client IP, e-mail) in one window before 429. */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_SECONDS = 15 * 60;
/** Registrations allowed per client IP an hour. */
export const REGISTER_PER_IP_PER_HOUR = 20;

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly jwt: JwtService,
    private readonly limits: RateLimitStore,
    @Inject(authConfig.KEY) private readonly cfg: AuthConfig,
  ) {}

  async register({ email, password }: CredentialsDto, ip: string): Promise<UserResponseDto> {
    const { count, retryAfter } = await this.limits.hit(`register:${ip}`, 3600);
    if (count > REGISTER_PER_IP_PER_HOUR) throw tooManyRequests(retryAfter);
    if (isCommonPassword(password)) {
      throw badRequest(ErrorCode.WeakPassword, 'password is too common; choose another');
    }
    const user = await this.users.createIfEmailFree(email, await hashPassword(password));
    if (!user) throw conflict(ErrorCode.EmailTaken, 'An account with this e-mail already exists');
    return UserResponseDto.from(user);
  }

  async login({ email, password }: CredentialsDto, ip: string): Promise<TokenResponseDto> {
    const key = `login:${ip}:${email}`;
    // Every attempt takes a slot before the password is checked, so concurrent
    // attempts cannot all pass a check made before any of them had failed; a
    // successful login gives its slot back, so only failures count.
    const attempt = await this.limits.hit(key, LOGIN_WINDOW_SECONDS);
    if (attempt.count > LOGIN_MAX_FAILURES) throw tooManyRequests(attempt.retryAfter);

    const user = await this.users.findWithPasswordHash(email);
    // Unknown e-mail still pays for a hash verification: both failures look and take the same.
    if (!(await verifyPassword(user?.passwordHash, password)) || !user) {
      throw unauthorized(ErrorCode.InvalidCredentials, 'Invalid e-mail or password');
    }
    await this.limits.release(key);
    const accessToken = await this.jwt.signAsync({ sub: user.id });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.cfg.jwtExpiresIn };
  }

  async deleteAccount(userId: string): Promise<void> {
    await this.users.delete(userId);
  }
}
