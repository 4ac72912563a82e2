// Data source for the TypeORM CLI (npm run migration:*), re-exported by
// ormconfig.ts. The service itself runs pending migrations at start, on
// PostgreSQL and on the embedded database alike.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';

const url = process.env.DATABASE_URL;
if (!url)
  throw new Error('Invalid configuration: DATABASE_URL is required by the migration commands');

export default new DataSource({ ...dataSourceOptions(url), migrationsRun: false });
