import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { hydrate, returnedEntities, selectList } from '../database/entity-rows';
import { PreparedStatement, PreparedStatements } from '../database/prepared-statement';
import { answersBySlot, BATCH_SLOT, StatementBatcher } from '../database/statement-batcher';
import { User } from './user.entity';

/** What an owner request knows of its user. */
const PUBLIC_FIELDS = ['id', 'email', 'createdAt'] satisfies (keyof User)[];

@Injectable()
export class UsersRepository {
  private readonly statements: PreparedStatements;
  private readonly byIds: PreparedStatement;
  private readonly lookups: StatementBatcher<string, User | null>;

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {
    this.statements = new PreparedStatements(users.manager.dataSource);
    // Raw and batched: every owner request reads its user (a token outlives
    // nothing), so this is a hot path. The reads that arrive together go as
    // one named statement; the select list comes from the entity.
    this.byIds = {
      name: 'users_by_ids',
      text: `SELECT r.i AS ${BATCH_SLOT}, ${selectList(users.metadata, 'users', PUBLIC_FIELDS)}
       FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, i) JOIN users ON users.id = r.id`,
    };
    this.lookups = new StatementBatcher((ids) => this.findByIds(ids), 2);
  }

  /** Inserts unless the e-mail is taken; undefined when it is (one atomic statement). */
  async createIfEmailFree(email: string, passwordHash: string): Promise<User | undefined> {
    // ON CONFLICT DO NOTHING: the e-mail's is the only unique key a new row
    // can meet, its id being generated.
    const result = await this.users
      .createQueryBuilder()
      .insert()
      .values({ email, passwordHash })
      .orIgnore()
      .returning(PUBLIC_FIELDS)
      .updateEntity(false)
      .execute();
    return returnedEntities(this.users, result)[0];
  }

  /** The user's public fields (never the password hash), or null when there is no such user. */
  findById(id: string): Promise<User | null> {
    return this.lookups.run(id);
  }

  private async findByIds(ids: string[]): Promise<(User | null)[]> {
    const rows = await this.statements.run<Record<string, unknown>>(this.byIds, [ids]);
    const { dataSource } = this.users.manager;
    return answersBySlot<User | null>(
      ids.length,
      rows,
      (row) => hydrate<User>(dataSource, this.users.metadata, row, { only: PUBLIC_FIELDS }),
      () => null,
    );
  }

  /** The only read of the password hash. */
  findWithPasswordHash(email: string): Promise<User | null> {
    return this.users.findOne({
      where: { email },
      select: { id: true, email: true, createdAt: true, passwordHash: true },
    });
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.users.update({ id }, { passwordHash });
  }

  /** Devices, their secrets, events and nonces go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<void> {
    await this.users.delete({ id });
  }
}
