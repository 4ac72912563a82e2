import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createSecretKey } from 'node:crypto';
import { authConfig, AuthConfig } from '../config/configuration';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { HashingQueue, PasswordHasher } from './passwords';
import { User } from './user.entity';
import { UsersRepository } from './users.repository';

/**
 * Users, passwords (argon2id) and access tokens (JWT HS256). Installs the
 * global JWT guard; routes opt out with @Public().
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    PassportModule,
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (cfg: AuthConfig) => ({
        secret: createSecretKey(Buffer.from(cfg.jwtSecret)),
        signOptions: { algorithm: 'HS256', expiresIn: cfg.jwtExpiresIn },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    UsersRepository,
    JwtStrategy,
    {
      provide: PasswordHasher,
      inject: [authConfig.KEY],
      useFactory: (cfg: AuthConfig) =>
        new PasswordHasher(new HashingQueue(cfg.hashConcurrency, cfg.hashQueue)),
    },
    { provide: APP_GUARD, useClass: JwtAuthGuard },
  ],
  exports: [UsersRepository],
})
export class AuthModule {}
