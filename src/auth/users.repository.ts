import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { returnedEntities } from '../database/returned-entities';
import { User } from './user.entity';

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  /** Inserts unless the e-mail is taken; undefined when it is (one atomic statement). */
  async createIfEmailFree(email: string, passwordHash: string): Promise<User | undefined> {
    // ON CONFLICT DO NOTHING: the e-mail's is the only unique key a new row
    // can meet, its id being generated.
    const result = await this.users
      .createQueryBuilder()
      .insert()
      .values({ email, passwordHash })
      .orIgnore()
      .returning(['id', 'email', 'createdAt'] satisfies (keyof User)[])
      .updateEntity(false)
      .execute();
    return returnedEntities(this.users, result)[0];
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
