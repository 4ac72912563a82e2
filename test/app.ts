import type { Type } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { APP_OPTIONS, configureApp, createAdapter } from '../src/app.setup';
import { recordResponses, recordRoutes } from './api-coverage/recorder';

/** The PostgreSQL server the suites create their databases on; unset: PGlite. */
export const SERVER_URL = process.env.DATABASE_URL;
delete process.env.DATABASE_URL;
/** Whether the suites run on PostgreSQL (DATABASE_URL set), not on the embedded PGlite. */
export const ON_POSTGRES = Boolean(SERVER_URL);

export const TEST_KEK = randomBytes(32).toString('base64');
const BASE_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  JWT_SECRET: randomBytes(32).toString('hex'),
  DEVICE_SECRET_KEK: TEST_KEK,
  LOG_LEVEL: 'info',
  // JSON lines even when the suites run on a terminal: the suites parse them.
  LOG_FORMAT: 'json',
  // One proxy in front (the test client): the right-most X-Forwarded-For entry is the client.
  TRUST_PROXY: '1',
};

export interface TestApp {
  app: NestFastifyApplication;
  /** Every route the HTTP server serves, as `METHOD /path/{param}`. */
  routes: string[];
  /** For supertest: `request(t.server)`. */
  server: ReturnType<NestFastifyApplication['getHttpServer']>;
  dataSource: DataSource;
  /** On PostgreSQL, a URL of this app's database that another instance can use at the same time. */
  databaseUrl?: string;
  /** Every log line the app wrote. */
  logs: string[];
  /** Stops the app and removes its data. */
  close(): Promise<void>;
  /** Stops the app and keeps its data for the next one: a restart. */
  stop(): Promise<TestData>;
}

/** The data of a stopped app: its database and DATA_DIR. */
export interface TestData {
  dataDir: string;
  databaseUrl?: string;
  /** Removes the data. */
  drop(): Promise<void>;
}

export interface TestAppOptions {
  /** Join the database of a running app (a second instance; PostgreSQL only). */
  databaseUrl?: string;
  /**
   * Start on the data a stopped app left (a restart, possibly with another
   * configuration). An embedded DATA_DIR takes one instance at a time.
   */
  data?: TestData;
  env?: Record<string, string | undefined>;
  /** Test-only modules mounted beside AppModule (e.g. a controller with @DeviceAuth()). */
  imports?: Type[];
}

async function admin<T>(work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on SERVER_URL; dropped by `close()`. */
async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `dr_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(SERVER_URL!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A fresh DATA_DIR, and a fresh database on SERVER_URL unless one is given. */
async function freshData(databaseUrl?: string): Promise<TestData> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dr-test-'));
  const db = !databaseUrl && SERVER_URL ? await createDatabase() : undefined;
  return {
    dataDir,
    databaseUrl: databaseUrl ?? db?.url,
    drop: async () => {
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sets the test environment for `data` (plus `extra`) and returns a function that restores the previous one. */
function useEnv(data: TestData, extra: Record<string, string | undefined> = {}): () => void {
  const env = {
    ...BASE_ENV,
    DATA_DIR: data.dataDir,
    DATABASE_URL: data.databaseUrl,
    ...extra,
  };
  const saved = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    process.env = saved;
  };
}

export interface TestContext {
  /** The application's providers: `context.get(DevicesService)`. */
  module: TestingModule;
  dataSource: DataSource;
  /** Stops the providers and removes the data. */
  close(): Promise<void>;
}

/**
 * The whole AppModule without HTTP, on a real database like createTestApp's:
 * for suites that test the rules of a service directly (the service tier).
 */
export async function createTestContext(
  options: Pick<TestAppOptions, 'env'> = {},
): Promise<TestContext> {
  const data = await freshData();
  const restoreEnv = useEnv(data, options.env);
  try {
    const module = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await module.init();
    return {
      module,
      dataSource: module.get(DataSource),
      close: async () => {
        await module.close();
        await data.drop();
      },
    };
  } catch (error) {
    await data.drop();
    throw error;
  } finally {
    restoreEnv();
  }
}

/**
 * Boots the whole AppModule on the real HTTP stack (Fastify) against a real
 * database: a fresh PostgreSQL database when DATABASE_URL is set, else an
 * embedded PGlite in a temporary DATA_DIR.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const data = options.data ?? (await freshData(options.databaseUrl));
  const restoreEnv = useEnv(data, options.env);
  const logs: string[] = [];
  try {
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule, ...(options.imports ?? [])],
    }).compile();
    const adapter = createAdapter({
      logDestination: { write: (line: string) => void logs.push(line) },
    });
    const routes = recordRoutes(adapter.getInstance());
    const answered = recordResponses(adapter.getInstance());
    const app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, APP_OPTIONS);
    configureApp(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const kept = data;
    return {
      app,
      routes,
      server: app.getHttpServer(),
      dataSource: app.get(DataSource),
      databaseUrl: data.databaseUrl,
      logs,
      close: async () => {
        await app.close();
        answered.save();
        await kept.drop();
      },
      stop: async () => {
        await app.close();
        answered.save();
        return kept;
      },
    };
  } catch (error) {
    if (!options.data) await data.drop();
    throw error;
  } finally {
    restoreEnv();
  }
}
