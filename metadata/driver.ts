// The two ways the store reaches PostgreSQL: a node-postgres pool (named prepared statements, one round
// trip per statement) or an embedded PGlite instance in a worker thread (pglite-worker-driver.ts). Both
// run the same SQL text; rows come back as plain objects with bigint columns as JS numbers.
import pg from 'pg';
import { isConnectionError, isTransientConflict, toKafkaError } from './errors.js';

/** One SQL statement. `name` doubles as the prepared-statement name on PostgreSQL and as the operation
 * named in errors; the text of a given name never changes. */
export interface Statement {
  readonly name: string;
  readonly text: string;
  /** Safe to run twice (reads, idempotent writes): retried once on a broken pooled connection. */
  readonly idempotent: boolean;
}

/** Whitespace runs are collapsed to one space: write no `--` comments and no literals with line breaks. */
export function statement(name: string, text: string, opts: { idempotent?: boolean } = {}): Statement {
  return { name, text: text.replace(/\s+/g, ' ').trim(), idempotent: opts.idempotent ?? false };
}

export type Row = Record<string, unknown>;

export interface Queryable {
  query<R = Row>(stmt: Statement, params?: unknown[]): Promise<R[]>;
}

export interface Driver extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction (retried whole on serialization failure or deadlock). */
  transaction<T>(name: string, fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const MAX_CONFLICT_RETRIES = 3;

export interface PoolSettings {
  /** Most connections open at once (default 20). */
  max: number;
  /** Connections kept open when idle (default 0). */
  min: number;
  /** How long a query waits for a free connection or for a new one to open (default 30 s). */
  acquireTimeoutMs: number;
  /** An idle connection is closed after this long (default 10 min). */
  idleTimeoutMs: number;
  /** Server-side statement_timeout of every statement (default 15 s; 0 = none). The client gives up
   * waiting 5 s later (a dead network), and a transaction idle this long is ended by the server too. */
  statementTimeoutMs: number;
}

export const DEFAULT_POOL: PoolSettings = { max: 20, min: 0, acquireTimeoutMs: 30_000, idleTimeoutMs: 600_000, statementTimeoutMs: 15_000 };

/** How much longer than the server's statement timeout the client waits for an answer. */
const CLIENT_TIMEOUT_SLACK_MS = 5_000;

/** node-postgres' client-side timeout ("Query read timeout"): the connection is still busy with the statement. */
function isClientReadTimeout(err: unknown): boolean {
  return err instanceof Error && /Query read timeout/.test(err.message);
}

const INT8_OID = 20;
const parseInt8 = (value: string) => Number(value);
/** Per-pool type parsers: int8 as number (offsets stay below 2^53), everything else as pg defaults.
 * Kept local so other users of `pg` in the process keep the global defaults. */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface MetadataLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

/** `statementTimeoutMs` > 0: statement_timeout and idle_in_transaction_session_timeout on the server,
 * query_timeout (statement timeout + 5 s) in the client, so no statement stays pending without bound. */
export function pgClientConfig(connectionString: string, connectTimeoutMs: number, statementTimeoutMs = 0): pg.ClientConfig {
  const cfg: pg.ClientConfig = {
    connectionString,
    connectionTimeoutMillis: connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'streamhouse',
    types: pgTypes,
  };
  if (statementTimeoutMs > 0) {
    cfg.statement_timeout = statementTimeoutMs;
    cfg.idle_in_transaction_session_timeout = statementTimeoutMs + CLIENT_TIMEOUT_SLACK_MS;
    cfg.query_timeout = statementTimeoutMs + CLIENT_TIMEOUT_SLACK_MS;
  }
  return cfg;
}

export class PgDriver implements Driver {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;

  constructor(connectionString: string, settings: PoolSettings, logger?: MetadataLogger) {
    this.pool = new pg.Pool({
      ...pgClientConfig(connectionString, settings.acquireTimeoutMs, settings.statementTimeoutMs),
      max: settings.max,
      min: settings.min,
      idleTimeoutMillis: settings.idleTimeoutMs,
    });
    // An idle pooled connection that breaks (server restart, pg_terminate_backend) is reported here and
    // dropped by the pool; without a listener the process would crash.
    this.pool.on('error', (err) => logger?.warn({ err }, 'metadata database connection lost (idle); reconnecting on demand'));
  }

  async query<R = Row>(stmt: Statement, params: unknown[] = []): Promise<R[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.pool.query({ name: stmt.name, text: stmt.text, values: params });
        return result.rows as R[];
      } catch (err) {
        if (isTransientConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
        // A pooled connection may have died while idle without the pool noticing yet: one retry on a
        // fresh connection, only for statements that are safe to run twice.
        if (stmt.idempotent && attempt === 0 && isConnectionError(err)) continue;
        throw toKafkaError(err, stmt.name);
      }
    }
  }

  async transaction<T>(name: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw toKafkaError(err, name);
      }
      let broken = false;
      // A checked-out client whose connection dies between our queries emits 'error'; unheard, that
      // would crash the process. Note it and let the next query fail.
      const onError = () => {
        broken = true;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: async <R>(stmt: Statement, params: unknown[] = []) =>
            (await client.query({ name: stmt.name, text: stmt.text, values: params })).rows as R[],
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // After a client-side timeout the connection is still busy with the statement: never reuse it.
        broken = broken || isConnectionError(err) || isClientReadTimeout(err);
        if (!broken) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
        }
        if (!broken && isTransientConflict(err) && attempt < MAX_CONFLICT_RETRIES) continue;
        throw toKafkaError(err, name);
      } finally {
        client.removeListener('error', onError);
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
