import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../user.entity';

export class UserResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'ada@example.com' })
  email: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  static from(user: Pick<User, 'id' | 'email' | 'createdAt'>): UserResponseDto {
    return { id: user.id, email: user.email, createdAt: user.createdAt.toISOString() };
  }
}

export class TokenResponseDto {
  @ApiProperty({ description: 'JWT (HS256) to send as `Authorization: Bearer <accessToken>`.' })
  accessToken: string;

  @ApiProperty({ enum: ['Bearer'], example: 'Bearer' })
  tokenType: 'Bearer';

  @ApiProperty({ example: 900, description: 'Lifetime in seconds.' })
  expiresIn: number;
}
