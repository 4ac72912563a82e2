// Data source for the TypeORM CLI (npm run migration:*), re-exported by
// ormconfig.ts: PostgreSQL when DATABASE_URL is set, else the embedded
// database in DATA_DIR (stop the service first: PGlite has one process).
// The service itself runs pending migrations at start, on both alike.
import 'reflect-metadata';
import { databaseConfig } from '../config/configuration';
import { migrationDataSource } from './data-source-options';

// The CLI awaits an exported promise of a data source.
export default migrationDataSource(databaseConfig());
