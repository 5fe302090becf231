// The worker thread that owns the embedded PGlite database (see pglite-worker-driver.ts): opens it,
// runs the migrations, then answers the main thread's requests until 'close'. PGlite is one connection:
// db.query and db.transaction share its transaction mutex, so while a transaction is open here other
// queries simply wait for it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PGlite, parse, protocol, type Transaction } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { MigrationError, defaultMigrationsFolder, runMigrations } from './migrate.js';
import { serializeError, type PgliteWorkerData, type WorkerMessage, type WorkerRequest } from './pglite-worker-driver.js';

if (!parentPort) throw new Error('pglite-worker.js runs as a worker thread (started by PgliteWorkerDriver)');
const port: MessagePort = parentPort;
const { pgdata, migrationsFolder } = workerData as PgliteWorkerData;

const post = (msg: WorkerMessage) => port.postMessage(msg);

function reply(id: number, rows: unknown[]): void {
  try {
    post({ type: 'reply', id, rows });
  } catch (err) {
    post({ type: 'reply', id, error: serializeError(err) }); // a value structured clone cannot copy
  }
}

const replyError = (id: number, err: unknown) => post({ type: 'reply', id, error: serializeError(err) });

/** Thrown inside db.transaction's callback to make PGlite roll back. */
const ROLLBACK = Symbol('rollback');

interface OpenTx {
  t: Transaction;
  end(how: { commit: boolean; id: number }): void;
}

const transactions = new Map<number, OpenTx>();

function begin(db: PGlite, id: number): void {
  let ending: { commit: boolean; id: number } | undefined;
  db.transaction(async (t) => {
    const ended = new Promise<{ commit: boolean; id: number }>((resolve) => transactions.set(id, { t, end: resolve }));
    reply(id, []);
    ending = await ended;
    if (!ending.commit) throw ROLLBACK;
  }).then(
    () => reply(ending!.id, []),
    (err: unknown) => {
      // Before the callback ran, BEGIN itself failed: that is the begin request's answer.
      if (!ending) replyError(id, err);
      else if (err === ROLLBACK) reply(ending.id, []);
      else replyError(ending.id, err); // COMMIT failed
    },
  ).finally(() => transactions.delete(id));
}

/** Parameter type oids of the statements prepared so far, by statement name. */
const prepared = new Map<string, number[]>();

function frame(...messages: Uint8Array[]): Uint8Array {
  return Buffer.concat(messages);
}

/**
 * A statement run as a named prepared statement. db.query() parses, describes and plans its text on
 * every call, which cost ~80% of a flush commit (1.7 ms of WASM time against 0.4 ms prepared);
 * statement names are unique per text (metadata/driver.ts), as PostgreSQL's pool already relies on.
 * Takes PGlite's two locks like db.query(), so it never runs inside another request's transaction.
 */
function namedQuery(db: PGlite, name: string, text: string, params: unknown[]): Promise<unknown[]> {
  const run = async () => {
    let types = prepared.get(name);
    if (types === undefined) {
      const r = await db.execProtocol(frame(protocol.serialize.parse({ name, text }), protocol.serialize.describe({ type: 'S', name }), protocol.serialize.sync()), { syncToFs: false });
      types = parse.parseDescribeStatementResults(r.messages);
      prepared.set(name, types);
    }
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serialize = db.serializers[types[i]!];
      return serialize ? (serialize(v) as string) : String(v);
    });
    const r = await db.execProtocol(
      frame(protocol.serialize.bind({ statement: name, values }), protocol.serialize.describe({ type: 'P' }), protocol.serialize.execute({}), protocol.serialize.sync()),
      { syncToFs: false },
    );
    await db.syncToFs();
    return parse.parseResults(r.messages, db.parsers)[0]?.rows ?? [];
  };
  return db._runExclusiveTransaction(() => db._runExclusiveQuery(run));
}

function serve(db: PGlite): void {
  port.on('message', (req: WorkerRequest) => {
    switch (req.type) {
      case 'query':
        namedQuery(db, req.name, req.text, req.params).then((rows) => reply(req.id, rows), (err: unknown) => replyError(req.id, err));
        break;
      case 'begin':
        begin(db, req.id);
        break;
      case 'tx-query': {
        const tx = transactions.get(req.tx);
        if (!tx) replyError(req.id, new Error(`no open transaction ${req.tx}`));
        else tx.t.query(req.text, req.params).then((r) => reply(req.id, r.rows), (err: unknown) => replyError(req.id, err));
        break;
      }
      case 'commit':
      case 'rollback': {
        const tx = transactions.get(req.tx);
        if (!tx) replyError(req.id, new Error(`no open transaction ${req.tx}`));
        else tx.end({ commit: req.type === 'commit', id: req.id });
        break;
      }
      case 'close':
        // The driver sends this once nothing is in flight. Closing PGlite flushes it to its directory;
        // closing the port then lets this thread exit.
        db.close().then(
          () => reply(req.id, []),
          (err: unknown) => replyError(req.id, err),
        ).finally(() => port.close());
        break;
    }
  });
}

async function start(): Promise<void> {
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir: pgdata });
  } catch (err) {
    post({ type: 'failed', stage: 'open', error: serializeError(err) });
    return port.close();
  }
  let applied: string[];
  try {
    applied = await runMigrations(drizzle({ client: db }), migrationsFolder || defaultMigrationsFolder());
  } catch (err) {
    await db.close().catch(() => {});
    post(
      err instanceof MigrationError
        ? { type: 'failed', stage: 'migrate', migration: err.migration, error: serializeError(err.cause) }
        : { type: 'failed', stage: 'migrate', error: serializeError(err) },
    );
    return port.close();
  }
  serve(db);
  post({ type: 'ready', migrations: applied.length });
  collectStartupGarbage();
}

void start();

/** Opening PGlite leaves a few hundred MB of dead buffers behind (start-up, initdb). On the main thread
 * the agent's own allocations soon had them collected; this thread allocates little, so they stayed
 * resident for many seconds. One full GC once start-up has settled (the next turn of the loop, when
 * PGlite's start-up jobs have let go of them) returns them at once. */
function collectStartupGarbage(): void {
  setFlagsFromString('--expose-gc'); // only contexts created from now on get `gc`
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  setImmediate(gc);
}
