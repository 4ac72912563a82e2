import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { User } from './user.entity';

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  /** Inserts unless the e-mail is taken; undefined when it is (one atomic statement). */
  async createIfEmailFree(email: string, passwordHash: string): Promise<User | undefined> {
    const rows: User[] = await this.users.query(
      `INSERT INTO users (email, password_hash) VALUES ($1, $2)
       ON CONFLICT (email) DO NOTHING
       RETURNING id, email, created_at AS "createdAt"`,
      [email, passwordHash],
    );
    return rows[0];
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOne({
      where: { id },
      select: { id: true, email: true, createdAt: true },
    });
  }

  /** The only read of the password hash. */
  findWithPasswordHash(email: string): Promise<User | null> {
    return this.users.findOne({
      where: { email },
      select: { id: true, email: true, createdAt: true, passwordHash: true },
    });
  }

  /** Devices, their secrets, events and nonces go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<void> {
    await this.users.delete({ id });
  }
}
