// Where an admin command reads from: the metadata database (PostgreSQL by URL, or the embedded PGlite
// of an agent's data directory) or a running broker (the Kafka protocol). Opening either fails with an
// AdminError that says what to do: the database unreachable, no StreamHouse schema, a data directory
// locked by a running agent (PGlite serves one process: ask the agent with --bootstrap-server).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openMetadataStore, describeDatabaseUrl } from '../../metadata/index.js';
import { PgDriver, statement } from '../../metadata/driver.js';
import { rootCause } from '../../metadata/errors.js';
import { SqlMetadataStore } from '../../metadata/sql-store.js';
import { acquireDataDirLock, DataDirInUseError, type DataDirLock } from '../data-dir-lock.js';
import { BrokerClient } from './broker-client.js';
import { clientSecurity } from '../security/sasl/client.js';
import { AdminError } from './errors.js';

export interface TargetOptions {
  bootstrapServer?: string;
  databaseUrl?: string;
  dataDir?: string;
  /** Connect and request timeout (default 10 s). */
  timeoutMs?: number;
  /** --bootstrap-server over TLS and/or SASL. */
  securityProtocol?: string;
  saslMechanism?: string;
  saslUsername?: string;
  saslPassword?: string;
  sslCaFile?: string;
}

export interface DbTarget {
  readonly kind: 'db';
  readonly store: SqlMetadataStore;
  /** "PostgreSQL postgres://user@host:5432/db" or "PGlite /path/metadata". */
  readonly label: string;
  close(): Promise<void>;
}

export interface BrokerTarget {
  readonly kind: 'broker';
  readonly client: BrokerClient;
  readonly label: string;
  close(): Promise<void>;
}

export type Target = DbTarget | BrokerTarget;

export const WHERE_HELP =
  'say where to read from: --bootstrap-server HOST:PORT (a running agent), --database-url URL or DATABASE_URL ' +
  '(the PostgreSQL metadata database), or --data-dir DIR (the data directory of an embedded agent that is stopped)';

/** Flags win over the environment; two flags at once is a usage error. */
export function chooseTarget(opts: TargetOptions, env: NodeJS.ProcessEnv = process.env): { kind: 'broker' | 'postgres' | 'pglite'; value: string } {
  const given = [
    opts.bootstrapServer !== undefined && ['broker', opts.bootstrapServer, '--bootstrap-server'],
    opts.databaseUrl !== undefined && ['postgres', opts.databaseUrl, '--database-url'],
    opts.dataDir !== undefined && ['pglite', opts.dataDir, '--data-dir'],
  ].filter((x): x is [string, string, string] => x !== false);
  if (given.length > 1) throw new AdminError(`${given.map((g) => g[2]).join(' and ')} cannot be used together: choose one`, 2);
  if (given.length === 1) {
    const [kind, value, flag] = given[0]!;
    if (value.trim() === '') throw new AdminError(`${flag} must not be empty`, 2);
    return { kind: kind as 'broker' | 'postgres' | 'pglite', value };
  }
  if (env.DATABASE_URL) return { kind: 'postgres', value: env.DATABASE_URL };
  if (env.STREAMHOUSE_DATA_DIR) return { kind: 'pglite', value: env.STREAMHOUSE_DATA_DIR };
  throw new AdminError(WHERE_HELP, 2);
}

export async function openTarget(opts: TargetOptions): Promise<Target> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const where = chooseTarget(opts);
  if (where.kind === 'broker') {
    let security;
    try {
      security = clientSecurity(opts);
    } catch (err) {
      throw new AdminError((err as Error).message, 2);
    }
    const client = await BrokerClient.connect(where.value, timeoutMs, security);
    return { kind: 'broker', client, label: `broker ${client.bootstrapAddress}`, close: async () => client.close() };
  }
  if (where.kind === 'postgres') return openPostgres(where.value, timeoutMs);
  return openPglite(where.value);
}

const SCHEMA_CHECK = statement(
  'sh_admin_schema_check',
  `SELECT to_regclass('partition_leases') IS NOT NULL AND to_regclass('coordinator_leases') IS NOT NULL AS ok`,
  { idempotent: true },
);

async function openPostgres(url: string, timeoutMs: number): Promise<DbTarget> {
  const { target, hostPort } = describeDatabaseUrl(url);
  // No migrations: an admin tool reads what the agents wrote and changes nothing.
  const driver = new PgDriver(url, { max: 4, min: 0, acquireTimeoutMs: timeoutMs, idleTimeoutMs: 10_000, statementTimeoutMs: 60_000 });
  const store = new SqlMetadataStore(driver);
  try {
    const [row] = await driver.query<{ ok: boolean }>(SCHEMA_CHECK);
    if (!row?.ok) {
      throw new AdminError(`the database at ${target} has no StreamHouse metadata (no agent has started on it yet, or DATABASE_URL names another database)`);
    }
  } catch (err) {
    await store.close().catch(() => undefined);
    if (err instanceof AdminError) throw err;
    const root = rootCause(err);
    throw new AdminError(
      `cannot read the metadata database at ${target}: ${root instanceof Error ? root.message : String(root)}. ` +
        `Check that PostgreSQL accepts connections on ${hostPort} and that the URL has the right user, password, database and sslmode.`,
    );
  }
  return { kind: 'db', store, label: `PostgreSQL ${target}`, close: () => store.close() };
}

async function openPglite(dataDir: string): Promise<DbTarget> {
  const dir = resolve(dataDir);
  const pgdata = join(dir, 'metadata', 'pgdata');
  if (!existsSync(pgdata)) {
    throw new AdminError(
      `no embedded metadata database in ${dir} (${pgdata} does not exist): --data-dir must be the data directory of an ` +
        `agent that ran without DATABASE_URL; for agents on PostgreSQL use --database-url`,
    );
  }
  let lock: DataDirLock;
  try {
    // The agent's own lock on its data directory: while we hold it no agent can start on it.
    lock = await acquireDataDirLock(dir);
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      throw new AdminError(
        `the embedded database in ${dir} is locked by a running agent (process ${err.pid}): PGlite serves one process at a time. ` +
          `Ask the agent instead with --bootstrap-server HOST:PORT (topics, groups, lag, agents, configs), ` +
          `or stop it to read the database with --data-dir (leases and segments need the database).`,
      );
    }
    throw err;
  }
  try {
    const store = (await openMetadataStore({ dataDir: dir })) as SqlMetadataStore;
    return {
      kind: 'db',
      store,
      label: `PGlite ${join(dir, 'metadata')}`,
      close: async () => {
        try {
          await store.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await lock.release();
    if (err instanceof DataDirInUseError) {
      throw new AdminError(`the embedded database in ${dir} is in use by process ${err.pid}: stop it, or use --bootstrap-server`);
    }
    throw new AdminError(`cannot open the embedded metadata database in ${dir}: ${(err as Error).message}`);
  }
}

/** For the commands that only the database can answer. */
export function requireDatabase(target: Target, command: string): DbTarget {
  if (target.kind === 'db') return target;
  throw new AdminError(
    `${command} reads the metadata database, which is not visible through the Kafka protocol: use --database-url URL ` +
      `(agents on PostgreSQL) or --data-dir DIR (an embedded agent's data directory, with the agent stopped)`,
    2,
  );
}
