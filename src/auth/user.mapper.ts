import { UserResponseDto } from './dto/user-response.dto';
import type { User } from './user.entity';

/** The one way a user leaves the service: never the password hash. */
export function toUserDto(user: Pick<User, 'id' | 'email' | 'createdAt'>): UserResponseDto {
  return { id: user.id, email: user.email, createdAt: user.createdAt.toISOString() };
}
