import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseConfig, DatabaseConfig } from '../config/configuration';
import { DataDirLockedError } from './data-dir-lock';
import { dataSourceOptions } from './data-source-options';
import { EmbeddedAwareDataSource, embeddedDataSource } from './embedded-database';

/**
 * Owns the connection: DATABASE_URL when set, otherwise the embedded PGlite,
 * which lives exactly as long as the data source that uses it.
 */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (cfg: DatabaseConfig) => ({
        ...dataSourceOptions(cfg.url, cfg),
        retryAttempts: cfg.connectAttempts,
        retryDelay: cfg.connectRetryDelayMs,
        // Waiting cannot free a DATA_DIR that another instance holds.
        toRetry: (error: unknown) => !(error instanceof DataDirLockedError),
      }),
      dataSourceFactory: async (options) => {
        const dbCfg = databaseConfig();
        if (dbCfg.url) return new EmbeddedAwareDataSource(options!).initialize();
        const dataSource = await embeddedDataSource(options!, dbCfg.dataDir);
        try {
          return await dataSource.initialize();
        } catch (error) {
          await dataSource.destroy();
          throw error;
        }
      },
    }),
  ],
})
export class DatabaseModule {}
