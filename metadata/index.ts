// Opens the metadata store: PostgreSQL when a database URL is given, else PGlite persisted under
// <dataDir>/metadata. Both run the drizzle/ migrations before the store is returned.
import { join } from 'node:path';
import pg from 'pg';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { acquireDataDirLock } from '../src/data-dir-lock.js';
import { DEFAULT_POOL, PgDriver, pgClientConfig, type MetadataLogger, type PoolSettings } from './driver.js';
import { rootCause } from './errors.js';
import { defaultMigrationsFolder, runMigrations } from './migrate.js';
import { PgliteWorkerDriver } from './pglite-worker-driver.js';
import { SqlMetadataStore } from './sql-store.js';
import type { MetadataStore } from './types.js';

export type * from './types.js';
export { CachedMetadataStore, type CacheOptions } from './cache.js';
export { DEFAULT_POOL, type MetadataLogger, type PoolSettings } from './driver.js';
export { AgentIdInUseError, DATABASE_UNAVAILABLE } from './errors.js';
export { MigrationError } from './migrate.js';
export { SqlMetadataStore } from './sql-store.js';
export { TopicChangeFeed, TOPIC_CHANGES_CHANNEL, CLUSTER_CHANGES_CHANNEL, ACL_CHANGES_CHANNEL } from './topic-changes.js';
export { MAX_PARTITIONS_PER_TOPIC, MAX_TOPIC_NAME_LENGTH, isValidTopicName, topicNameProblem } from './validate.js';

export interface OpenMetadataStoreOptions {
  /** postgres://user:password@host:port/database[?sslmode=require]; unset → embedded PGlite. */
  databaseUrl?: string;
  /** The agent's data directory; PGlite keeps its files in <dataDir>/metadata. */
  dataDir: string;
  /** PostgreSQL pool settings (defaults: max 20, min 0, acquire 30 s, idle 10 min). */
  pool?: Partial<PoolSettings>;
  logger?: MetadataLogger;
  /** Defaults to this package's drizzle/ folder. */
  migrationsFolder?: string;
}

/** Serializes migrations of concurrently starting agents on one PostgreSQL database. */
const MIGRATION_LOCK_KEY = 0x5354_4d48; // "STMH"
const MIN_SERVER_VERSION = 130000; // gen_random_uuid() is built in from PostgreSQL 13

export async function openMetadataStore(opts: OpenMetadataStoreOptions): Promise<MetadataStore> {
  const folder = opts.migrationsFolder ?? defaultMigrationsFolder();
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts, folder) : openPglite(opts.dataDir, opts, folder);
}

function poolSettings(overrides: Partial<PoolSettings> = {}): PoolSettings {
  const s = { ...DEFAULT_POOL };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof PoolSettings, number | undefined]>) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0 || (key === 'max' && value < 1)) {
      throw new Error(`metadata pool setting ${key} must be a ${key === 'max' ? 'positive' : 'non-negative'} integer`);
    }
    s[key] = value;
  }
  if (s.min > s.max) throw new Error(`metadata pool min (${s.min}) exceeds max (${s.max})`);
  return s;
}

/** "postgres://user@host:port/db" without the password, and host:port, for messages. */
export function describeDatabaseUrl(url: string): { target: string; hostPort: string } {
  try {
    const u = new URL(url);
    const host = u.searchParams.get('host') ?? (u.hostname || 'localhost');
    const port = u.searchParams.get('port') ?? (u.port || '5432');
    const db = u.pathname.replace(/^\//, '') || u.username || 'postgres';
    const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
    return { target: `postgres://${user}${host}:${port}/${db}`, hostPort: `${host}:${port}` };
  } catch {
    return { target: 'DATABASE_URL (unparsable)', hostPort: 'the host and port in DATABASE_URL' };
  }
}

async function openPostgres(url: string, opts: OpenMetadataStoreOptions, folder: string): Promise<MetadataStore> {
  const settings = poolSettings(opts.pool);
  const { target, hostPort } = describeDatabaseUrl(url);
  // Migrations run on a dedicated connection holding an advisory lock, so that agents starting together
  // migrate one after the other; closing the connection releases the lock.
  const client = new pg.Client(pgClientConfig(url, settings.acquireTimeoutMs));
  client.on('error', () => {}); // reported through the failing query below
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const root = rootCause(err);
    throw new KafkaError(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `cannot connect to the metadata database at ${target}: ${root instanceof Error ? root.message : String(root)}. ` +
        `Check that PostgreSQL is running and accepts connections on ${hostPort}, and that DATABASE_URL has the ` +
        `right user, password, database name and sslmode.`,
      { cause: err },
    );
  }
  try {
    const { rows } = await client.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version_num']);
    if (Number(rows[0]?.v) < MIN_SERVER_VERSION) {
      throw new Error(`the metadata database at ${target} runs PostgreSQL ${rows[0]?.v}; version 13 or newer is required`);
    }
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const applied = await runMigrations(drizzle({ client }), folder);
    opts.logger?.info({ database: target, migrations: applied.length }, 'metadata store: PostgreSQL ready');
  } finally {
    await client.end().catch(() => {});
  }
  return new SqlMetadataStore(new PgDriver(url, settings, opts.logger));
}

async function openPglite(dataDir: string, opts: OpenMetadataStoreOptions, folder: string): Promise<MetadataStore> {
  if (!dataDir) throw new Error('openMetadataStore needs a dataDir when no database URL is set');
  const dir = join(dataDir, 'metadata');
  const lock = await acquireDataDirLock(dir);
  try {
    // PGlite runs in a worker thread (opened and migrated there), off the event loop of the agent.
    const { driver, migrations } = await PgliteWorkerDriver.open(join(dir, 'pgdata'), folder, opts.logger);
    opts.logger?.info({ dataDir: dir, migrations }, 'metadata store: PGlite ready');
    return new SqlMetadataStore(driver, () => lock.release());
  } catch (err) {
    await lock.release();
    throw err;
  }
}
