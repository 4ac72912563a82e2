import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { databaseConfig, DatabaseConfig } from '../config/configuration';
import { DataDirLockedError } from './data-dir-lock';
import { dataSourceOptions } from './data-source-options';
import { EmbeddedDatabase } from './embedded-database';

/**
 * Owns the connection: DATABASE_URL when set, otherwise the embedded PGlite,
 * which lives exactly as long as the data source that uses it.
 */
class EmbeddedAwareDataSource extends DataSource {
  embedded?: EmbeddedDatabase;

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.embedded?.stop();
    }
  }
}

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
        let embedded: EmbeddedDatabase | undefined;
        if (!dbCfg.url) {
          embedded = await EmbeddedDatabase.start(dbCfg.dataDir);
          options = {
            ...options!,
            extra: { ...(options!.extra as object), ...embedded.poolOptions },
          } as typeof options;
        }
        const dataSource = new EmbeddedAwareDataSource(options!);
        dataSource.embedded = embedded;
        try {
          return await dataSource.initialize();
        } catch (error) {
          await embedded?.stop();
          throw error;
        }
      },
    }),
  ],
})
export class DatabaseModule {}
