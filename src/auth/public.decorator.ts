import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'isPublic';
/** Opts a route out of the global JWT guard (health, docs, login, register, device routes). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
