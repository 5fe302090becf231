// PGlite in a worker thread. PGlite runs Postgres (WASM) synchronously on the thread that calls it; on
// the agent's main thread that stalled the event loop for milliseconds per flush commit. Here the
// database lives in pglite-worker.ts and this driver only posts messages: one per query, and
// begin / tx-query / commit / rollback for a transaction the worker holds open meanwhile.
import { Worker } from 'node:worker_threads';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { Driver, MetadataLogger, Queryable, Row, Statement } from './driver.js';
import { toKafkaError } from './errors.js';
import { MigrationError } from './migrate.js';

// --- the message protocol (shared with pglite-worker.ts) ---------------------------------------------

export interface PgliteWorkerData {
  pgdata: string;
  migrationsFolder: string;
}

export type WorkerRequest =
  | { type: 'query'; id: number; name: string; text: string; params: unknown[] }
  | { type: 'begin'; id: number }
  | { type: 'tx-query'; id: number; tx: number; text: string; params: unknown[] }
  | { type: 'commit' | 'rollback'; id: number; tx: number }
  | { type: 'close'; id: number };

/** A request before the driver numbers it. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

export type WorkerMessage =
  | { type: 'ready'; migrations: number }
  | { type: 'failed'; stage: 'open' | 'migrate'; migration?: string; error: SerializedError }
  | { type: 'reply'; id: number; rows: unknown[] }
  | { type: 'reply'; id: number; error: SerializedError };

/** An error as plain data: structured clone keeps only name/message/stack of an Error, and the mapping
 * in errors.ts needs the Postgres fields (code, severity, detail, constraint, …). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, string | number | boolean | null>;
  cause?: SerializedError | { value: string };
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), props: {} };
  const props: SerializedError['props'] = {};
  for (const [key, value] of Object.entries(err)) {
    if (key === 'cause') continue;
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      props[key] = value;
    }
  }
  const out: SerializedError = { name: err.name, message: err.message, stack: err.stack, props };
  if (err.cause !== undefined) {
    out.cause = err.cause instanceof Error && depth < 5 ? serializeError(err.cause, depth + 1) : { value: String(err.cause) };
  }
  return out;
}

/** The Error the other thread threw, with its own properties, name, stack and cause chain. */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : 'value' in s.cause ? s.cause.value : deserializeError(s.cause);
  const err = new Error(s.message, cause === undefined ? undefined : { cause });
  Object.assign(err, s.props);
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

// --- the driver ---------------------------------------------------------------------------------------

/** How long close() waits for the worker to close PGlite and exit before terminating it. */
const CLOSE_TIMEOUT_MS = 30_000;

interface Pending {
  resolve(rows: unknown[]): void;
  reject(err: Error): void;
}

function startWorker(workerData: PgliteWorkerData): Worker {
  // Compiled: dist/metadata/pglite-worker.js next to this file.
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData });
  // From source under tsx: on Node versions without worker_threads.isInternalThread (< 22), tsx does not
  // register itself in worker threads, so the worker does it before loading the .ts entry.
  const entry = JSON.stringify(new URL('./pglite-worker.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const boot = `const wt = require('node:worker_threads');
    (wt.isInternalThread === undefined ? import(${tsx}).then((m) => m.register()) : Promise.resolve()).then(() => import(${entry}));`;
  return new Worker(boot, { eval: true, workerData });
}

export class PgliteWorkerDriver implements Driver {
  readonly kind = 'pglite' as const;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Queries and transactions under way; close() lets them finish first. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set once the worker is gone (or going): every call fails with it. */
  private failure: KafkaError | undefined;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  private refs = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly logger?: MetadataLogger,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type !== 'reply') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      this.unref();
      if ('error' in msg) p.reject(deserializeError(msg.error));
      else p.resolve(msg.rows);
    });
    // A crash of the worker (WASM abort, out of memory) must not crash the agent: callers get a
    // retriable error instead, now and from then on.
    worker.on('error', (err) => this.fail(`embedded metadata database failed: ${err.message}`, err));
    worker.on('exit', (code) => this.fail(`embedded metadata database stopped unexpectedly (worker exit code ${code})`));
  }

  /** Starts the worker, which opens PGlite at `pgdata` and migrates it; resolves once it is ready. */
  static async open(pgdata: string, migrationsFolder: string, logger?: MetadataLogger): Promise<{ driver: PgliteWorkerDriver; migrations: number }> {
    const workerData: PgliteWorkerData = { pgdata, migrationsFolder };
    const worker = startWorker(workerData);
    const cannotOpen = (cause: unknown) =>
      new Error(`cannot open the embedded metadata database in ${pgdata}: ${String(cause)}`, { cause });
    let onMessage!: (msg: WorkerMessage) => void;
    let onError!: (err: Error) => void;
    let onExit!: (code: number) => void;
    let migrations: number;
    try {
      migrations = await new Promise<number>((resolve, reject) => {
        onMessage = (msg) => {
          if (msg.type === 'ready') return resolve(msg.migrations);
          if (msg.type !== 'failed') return reject(new Error(`unexpected message from the PGlite worker: ${msg.type}`));
          const cause = deserializeError(msg.error);
          if (msg.stage === 'open') reject(cannotOpen(cause));
          else reject(msg.migration !== undefined ? new MigrationError(msg.migration, cause) : cause);
        };
        onError = (err) => reject(cannotOpen(err));
        onExit = (code) => reject(cannotOpen(`the PGlite worker exited with code ${code} while starting`));
        worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      });
    } catch (err) {
      // The worker closed PGlite before reporting; make sure it is gone before the lock is released.
      await worker.terminate().catch(() => {});
      throw err;
    } finally {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    }
    const driver = new PgliteWorkerDriver(worker, logger);
    worker.unref(); // like an open PGlite, an idle store does not keep the process alive
    return { driver, migrations };
  }

  private fail(message: string, cause?: unknown): void {
    if (this.failure) return;
    this.failure = new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, message, cause === undefined ? undefined : { cause });
    if (!this.closing) this.logger?.warn({ err: cause }, message);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    this.refs = 0;
  }

  // The worker is referenced only while a reply is awaited: a pending query keeps the process alive.
  private ref(): void {
    if (this.refs++ === 0) this.worker.ref();
  }

  private unref(): void {
    if (--this.refs === 0) this.worker.unref();
  }

  private call(req: Unnumbered<WorkerRequest>): Promise<unknown[]> {
    return this.send(this.nextId++, req);
  }

  private send(id: number, req: Unnumbered<WorkerRequest>): Promise<unknown[]> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<unknown[]>((resolve, reject) => {
      try {
        this.worker.postMessage({ ...req, id });
      } catch (err) {
        return reject(err); // a parameter that cannot be cloned
      }
      this.pending.set(id, { resolve, reject });
      this.ref();
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  private closedError(): KafkaError | undefined {
    if (this.closing) return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'metadata store is closed');
    return undefined;
  }

  query<R = Row>(stmt: Statement, params: unknown[] = []): Promise<R[]> {
    const closed = this.closedError();
    if (closed) return Promise.reject(closed);
    return this.track(
      this.call({ type: 'query', name: stmt.name, text: stmt.text, params }).then(
        (rows) => rows as R[],
        (err: unknown) => {
          throw toKafkaError(err, stmt.name);
        },
      ),
    );
  }

  transaction<T>(name: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const closed = this.closedError();
    if (closed) return Promise.reject(closed);
    return this.track(this.runTransaction(name, fn));
  }

  private async runTransaction<T>(name: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const id = this.nextId++; // the begin request's id names the transaction
    try {
      await this.send(id, { type: 'begin' });
    } catch (err) {
      throw toKafkaError(err, name);
    }
    const tx: Queryable = {
      query: async <R>(stmt: Statement, params: unknown[] = []) =>
        (await this.call({ type: 'tx-query', tx: id, text: stmt.text, params })) as R[],
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      // The worker throws inside its db.transaction callback, so PGlite rolls back.
      await this.call({ type: 'rollback', tx: id }).catch(() => {});
      throw toKafkaError(err, name);
    }
    try {
      await this.call({ type: 'commit', tx: id });
    } catch (err) {
      throw toKafkaError(err, name);
    }
    return result;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inflight]);
      if (this.failure) return; // already gone
      this.worker.ref();
      const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
      try {
        // The worker closes PGlite (flushing it to disk) and exits; the data-dir lock is released after.
        await this.call({ type: 'close' }).catch(() => {});
        await this.exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.closing;
  }
}
