import { Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { CreatedAtColumn, UpdatedAtColumn } from '../database/timestamps';

@Entity('users')
@Unique('uq_users_email', ['email'])
export class User {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Trimmed and lower-cased before it gets here. */
  @Column({ type: 'varchar', length: 254 })
  email: string;

  /** argon2id PHC string; never leaves the auth service. */
  @Column({ name: 'password_hash', type: 'text', select: false })
  passwordHash: string;

  @CreatedAtColumn()
  createdAt: Date;

  @UpdatedAtColumn()
  updatedAt: Date;
}
