import { toUserDto } from './user.mapper';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { badRequest, conflict, tooManyRequests, unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { RateLimitStore } from '../common/rate-limit.store';
import { authConfig, AuthConfig } from '../config/configuration';
import { isCommonPassword } from './common-passwords';
import { CredentialsDto } from './dto/credentials.dto';
import { TokenResponseDto, UserResponseDto } from './dto/user-response.dto';
import { HashingBusyError, PasswordHasher } from './passwords';
import { UsersRepository } from './users.repository';

/** Failed logins allowed per (client IP, e-mail) in one window before 429. */
export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_SECONDS = 15 * 60;
/** Failed logins allowed per client IP, across e-mails, in one window before 429. */
export const LOGIN_MAX_FAILURES_PER_IP = 50;
/** Registrations allowed per client IP an hour. */
export const REGISTER_PER_IP_PER_HOUR = 20;

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly jwt: JwtService,
    private readonly limits: RateLimitStore,
    private readonly passwords: PasswordHasher,
    @Inject(authConfig.KEY) private readonly cfg: AuthConfig,
  ) {}

  async register({ email, password }: CredentialsDto, ip: string): Promise<UserResponseDto> {
    const { count, retryAfter } = await this.limits.hit(`register:${ip}`, 3600);
    if (count > REGISTER_PER_IP_PER_HOUR) throw tooManyRequests(retryAfter);
    if (isCommonPassword(password)) {
      throw badRequest(ErrorCode.WeakPassword, 'password is too common; choose another');
    }
    const hash = await busyIs429(this.passwords.hash(password));
    const user = await this.users.createIfEmailFree(email, hash);
    if (!user) throw conflict(ErrorCode.EmailTaken, 'An account with this e-mail already exists');
    return toUserDto(user);
  }

  async login({ email, password }: CredentialsDto, ip: string): Promise<TokenResponseDto> {
    const pairKey = `login:${ip}:${email}`;
    const ipKey = `login-ip:${ip}`;
    // Every attempt takes a slot before the password is checked, so concurrent
    // attempts cannot all pass a check made before any of them had failed; a
    // successful login gives its slots back, so only failures count. Two
    // bounds: per (IP, e-mail), and per IP across e-mails.
    const [pair, perIp] = await Promise.all([
      this.limits.hit(pairKey, LOGIN_WINDOW_SECONDS),
      this.limits.hit(ipKey, LOGIN_WINDOW_SECONDS),
    ]);
    const exceeded = [
      pair.count > LOGIN_MAX_FAILURES ? pair.retryAfter : 0,
      perIp.count > LOGIN_MAX_FAILURES_PER_IP ? perIp.retryAfter : 0,
    ];
    if (Math.max(...exceeded) > 0) {
      // A refused attempt checked no password: it is not one more failure.
      await Promise.all([this.limits.release(pairKey), this.limits.release(ipKey)]);
      throw tooManyRequests(Math.max(...exceeded));
    }

    let user: Awaited<ReturnType<UsersRepository['findWithPasswordHash']>>;
    let ok: boolean;
    try {
      user = await this.users.findWithPasswordHash(email);
      // Unknown e-mail still pays for a hash verification: both failures look and take the same.
      ok = await busyIs429(this.passwords.verify(user?.passwordHash, password));
    } catch (error) {
      // Not an attempt at the password (queue full, database down): give the slots back.
      await Promise.all([this.limits.release(pairKey), this.limits.release(ipKey)]);
      throw error;
    }
    if (!ok || !user) {
      throw unauthorized(ErrorCode.InvalidCredentials, 'Invalid e-mail or password');
    }
    await Promise.all([this.limits.release(pairKey), this.limits.release(ipKey)]);
    if (this.passwords.needsRehash(user.passwordHash)) await this.rehash(user.id, password);
    const accessToken = await this.jwt.signAsync({ sub: user.id });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.cfg.jwtExpiresIn };
  }

  /**
   * The hash of a password that just verified, made again with the current
   * parameters. Best effort: a busy queue or a failed write leaves the old
   * hash, which still verifies, for the next login.
   */
  private async rehash(userId: string, password: string): Promise<void> {
    try {
      await this.users.updatePasswordHash(userId, await this.passwords.hash(password));
    } catch (error) {
      this.logger.warn(`Re-hashing a password failed: ${(error as Error).message}`);
    }
  }

  async deleteAccount(userId: string): Promise<void> {
    await this.users.delete(userId);
  }
}

/** A full hashing queue is a 429 at once, with a short Retry-After. */
async function busyIs429<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof HashingBusyError) throw tooManyRequests(1);
    throw error;
  }
}
