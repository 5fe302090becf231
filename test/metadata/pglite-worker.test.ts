// PGlite in its worker thread: values and errors cross the thread as they came from PGlite in-process,
// a transaction holds other queries back, startup failures are reported as before, and a worker that
// dies turns every query into a retriable KafkaError instead of crashing the process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { MigrationError, openMetadataStore } from '../../metadata/index.js';
import { statement } from '../../metadata/driver.js';
import { rootCause } from '../../metadata/errors.js';
import { writeBrokenMigrations } from './contract.js';
import { PgliteWorkerDriver, deserializeError, serializeError } from '../../metadata/pglite-worker-driver.js';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { DataDirInUseError } from '../../src/data-dir-lock.js';

const tmp = (name: string) => mkdtempSync(join(tmpdir(), `streamhouse-pglite-worker-${name}-`));
const driverOf = (store: MetadataStore) => (store as SqlMetadataStore).driver as PgliteWorkerDriver;
const workerOf = (store: MetadataStore) => (driverOf(store) as unknown as { worker: Worker }).worker;

function assertRetriable(err: unknown): true {
  assert.ok(err instanceof KafkaError, `expected a KafkaError, got ${String(err)}`);
  assert.equal(err.code, ErrorCode.KAFKA_STORAGE_ERROR, err.message);
  assert.equal(err.retriable, true);
  return true;
}

describe('PGlite worker', () => {
  let dataDir: string;
  let store: MetadataStore;
  before(async () => {
    dataDir = tmp('main');
    store = await openMetadataStore({ dataDir });
  });
  after(async () => {
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs the store through the worker driver', () => {
    assert.ok(driverOf(store) instanceof PgliteWorkerDriver);
    assert.equal(store.kind, 'pglite');
  });

  it('returns values as PGlite does in-process: int8 numbers, bytea bytes, jsonb objects, timestamps', async () => {
    const [row] = await driverOf(store).query<Record<string, unknown>>(
      statement(
        'test_types',
        `SELECT 9007199254740991::int8 AS big, 42::int8 AS small, 7::int4 AS i4, '\\x00ff10'::bytea AS bytes,
                '{"a": [1, "x"], "b": null}'::jsonb AS doc, 'text' AS s, true AS flag, NULL::int8 AS nothing,
                '2024-01-02T03:04:05.678Z'::timestamptz AS at, $1::bytea AS echoed`,
      ),
      [Buffer.from([1, 2, 3])],
    );
    assert.equal(row!.big, Number.MAX_SAFE_INTEGER);
    assert.equal(row!.small, 42);
    assert.equal(row!.i4, 7);
    assert.ok(row!.bytes instanceof Uint8Array);
    assert.deepEqual([...(row!.bytes as Uint8Array)], [0, 255, 16]);
    assert.deepEqual([...(row!.echoed as Uint8Array)], [1, 2, 3]);
    assert.deepEqual(row!.doc, { a: [1, 'x'], b: null });
    assert.equal(row!.s, 'text');
    assert.equal(row!.flag, true);
    assert.equal(row!.nothing, null);
    assert.ok(row!.at instanceof Date);
    assert.equal((row!.at as Date).toISOString(), '2024-01-02T03:04:05.678Z');
  });

  it('rebuilds Postgres errors with their fields, so they map to the same KafkaErrors', async () => {
    const driver = driverOf(store);
    await driver.query(statement('test_uq_create', 'CREATE TABLE IF NOT EXISTS worker_uq (k int CONSTRAINT worker_uq_k PRIMARY KEY)'));
    await driver.query(statement('test_uq_insert', 'INSERT INTO worker_uq VALUES (1) ON CONFLICT DO NOTHING'));
    await assert.rejects(driver.query(statement('test_uq_dup', 'INSERT INTO worker_uq VALUES (1)')), (err: unknown) => {
      assert.ok(err instanceof KafkaError);
      assert.equal(err.code, ErrorCode.INVALID_REQUEST);
      assert.match(err.message, /^test_uq_dup: duplicate key value violates unique constraint "worker_uq_k"/);
      const cause = err.cause as Record<string, unknown>;
      assert.ok(cause instanceof Error);
      assert.equal(cause.code, '23505');
      assert.equal(cause.severity, 'ERROR');
      assert.equal(cause.constraint, 'worker_uq_k');
      assert.equal(cause.table, 'worker_uq');
      assert.match(String(cause.detail), /Key \(k\)=\(1\) already exists/);
      return true;
    });
    // Not a mapped state: the rebuilt error itself reaches the caller.
    await assert.rejects(driver.query(statement('test_syntax', 'SELEC 1')), (err: unknown) => {
      assert.ok(err instanceof Error && !(err instanceof KafkaError));
      assert.equal((err as { code?: string }).code, '42601');
      assert.match(err.message, /syntax error/);
      return true;
    });
    // A KafkaError thrown in a transaction body comes through unchanged.
    await assert.rejects(store.addPartitions('no-such-topic', 3), (err: unknown) => {
      assert.ok(err instanceof KafkaError);
      assert.equal(err.code, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return true;
    });
  });

  it('runs statements prepared once by name: new parameters each call, errors leave the session usable', async () => {
    const driver = driverOf(store);
    const div = statement('test_prepared_div', 'SELECT 60 / $1::int AS q, cardinality($2::text[]) AS n, $2::text[] AS a');
    assert.deepEqual(await driver.query(div, [5, ['x', null, 'y "z"']]), [{ q: 12, n: 3, a: ['x', null, 'y "z"'] }]);
    await assert.rejects(driver.query(div, [0, []]), (err: unknown) => {
      // division_by_zero, from the prepared statement: a data error, so a non-retriable INVALID_REQUEST
      assert.ok(err instanceof KafkaError && err.code === ErrorCode.INVALID_REQUEST, String(err));
      assert.equal((rootCause(err) as { code?: string }).code, '22012');
      return true;
    });
    assert.deepEqual(await driver.query(div, [4, ['only']]), [{ q: 15, n: 1, a: ['only'] }]);
    // Prepared statements live in the session: a transaction sees the same results and does not
    // interleave with them.
    await store.createTopic({ name: 'prepared-t', partitionCount: 2 });
    const [a, b] = await Promise.all([store.getTopic('prepared-t'), store.getPartitions('prepared-t')]);
    assert.equal(a?.partitionCount, 2);
    assert.deepEqual(b.map((p) => p.partitionId), [0, 1]);
    await store.addPartitions('prepared-t', 3);
    assert.equal((await store.getTopic('prepared-t'))?.partitionCount, 3);
  });

  it('a transaction rolls back when its body throws, and holds other queries until it ends', async () => {
    const driver = driverOf(store);
    await driver.query(statement('test_tx_create', 'CREATE TABLE IF NOT EXISTS worker_tx (k int PRIMARY KEY, v text)'));
    await assert.rejects(
      driver.transaction('test_tx_fail', async (tx) => {
        await tx.query(statement('test_tx_ins', 'INSERT INTO worker_tx VALUES (1, $1)'), ['lost']);
        throw new Error('body failed');
      }),
      /body failed/,
    );
    assert.deepEqual(await driver.query(statement('test_tx_read', 'SELECT v FROM worker_tx ORDER BY k')), []);

    const order: string[] = [];
    let outside: Promise<unknown> | undefined;
    const result = await driver.transaction('test_tx_ok', async (tx) => {
      await tx.query(statement('test_tx_ins2', 'INSERT INTO worker_tx VALUES (2, $1)'), ['first']);
      // Issued while the transaction is open: PGlite is one connection, so it runs after COMMIT.
      outside = driver.query<{ v: string }>(statement('test_tx_read', 'SELECT v FROM worker_tx ORDER BY k')).then((rows) => {
        order.push('outside');
        return rows.map((r) => r.v);
      });
      await new Promise((r) => setTimeout(r, 50));
      await tx.query(statement('test_tx_upd', 'UPDATE worker_tx SET v = $1 WHERE k = 2'), ['second']);
      order.push('body done');
      return 'ok';
    });
    assert.equal(result, 'ok');
    assert.deepEqual(await outside, ['second'], 'the waiting query sees the committed row');
    assert.deepEqual(order, ['body done', 'outside']);

    // A failing statement inside the transaction: rolled back, mapped like any other error.
    await assert.rejects(
      driver.transaction('test_tx_dup', async (tx) => {
        await tx.query(statement('test_tx_ins3', 'INSERT INTO worker_tx VALUES (3, $1)'), ['x']);
        await tx.query(statement('test_tx_ins4', 'INSERT INTO worker_tx VALUES (2, $1)'), ['dup']);
      }),
      (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.INVALID_REQUEST && /^test_tx_dup: duplicate key/.test(err.message),
    );
    assert.deepEqual(await driver.query(statement('test_tx_read', 'SELECT v FROM worker_tx ORDER BY k')), [{ v: 'second' }]);
  });

  it('errors survive serialization with name, message, fields and cause chain', () => {
    const inner = Object.assign(new Error('inner'), { code: '08006', severity: 'FATAL' });
    const outer = Object.assign(new Error('outer', { cause: inner }), { name: 'DrizzleQueryError', query: 'SELECT 1', params: [1] });
    const back = deserializeError(structuredClone(serializeError(outer)));
    assert.equal(back.name, 'DrizzleQueryError');
    assert.equal(back.message, 'outer');
    assert.equal((back as unknown as { query: string }).query, 'SELECT 1');
    const cause = back.cause as Error & { code: string; severity: string };
    assert.ok(cause instanceof Error);
    assert.equal(cause.code, '08006');
    assert.equal(cause.severity, 'FATAL');
  });
});

it('close() ends the worker thread; the directory can be reopened at once', async () => {
  const dataDir = tmp('close');
  try {
    const store = await openMetadataStore({ dataDir });
    await store.createTopic({ name: 'kept', partitionCount: 1 });
    const worker = workerOf(store);
    let exitCode: number | undefined;
    worker.once('exit', (code) => (exitCode = code));
    await store.close();
    assert.equal(exitCode, 0, 'the worker exited on its own after closing PGlite');
    await assert.rejects(driverOf(store).query(statement('test_after_close', 'SELECT 1')), assertRetriable);
    const again = await openMetadataStore({ dataDir });
    try {
      assert.equal((await again.getTopic('kept'))?.partitionCount, 1);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('a worker that dies fails pending and later queries with KAFKA_STORAGE_ERROR, not a crash', async () => {
  const dataDir = tmp('dies');
  try {
    const store = await openMetadataStore({ dataDir });
    const slow = driverOf(store).query(statement('test_slow', 'SELECT count(*) FROM generate_series(1, 20000000)'));
    const inTx = driverOf(store).transaction('test_tx_dies', (tx) => tx.query(statement('test_slow_tx', 'SELECT 1')));
    await new Promise((r) => setTimeout(r, 20));
    await workerOf(store).terminate(); // as if it crashed
    await assert.rejects(slow, assertRetriable);
    await assert.rejects(inTx, assertRetriable);
    await assert.rejects(store.getTopic('any'), assertRetriable);
    await assert.rejects(store.listTopics(), assertRetriable);
    await store.close(); // still completes and releases the lock
    const again = await openMetadataStore({ dataDir });
    await again.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('a corrupt database directory rejects openMetadataStore with a clear error and releases the lock', async () => {
  const dataDir = tmp('corrupt');
  try {
    mkdirSync(join(dataDir, 'metadata', 'pgdata'), { recursive: true });
    writeFileSync(join(dataDir, 'metadata', 'pgdata', 'PG_VERSION'), 'garbage\n');
    for (let i = 0; i < 2; i++) {
      await assert.rejects(openMetadataStore({ dataDir }), (err: unknown) => {
        assert.ok(!(err instanceof DataDirInUseError), 'the lock was released after the first failure');
        assert.ok(err instanceof Error);
        assert.match(err.message, /^cannot open the embedded metadata database in .*pgdata: /);
        assert.ok(err.cause instanceof Error);
        return true;
      });
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('a failing migration is named, as on PostgreSQL', async () => {
  const dataDir = tmp('migration');
  const folder = tmp('migrations');
  try {
    writeBrokenMigrations(folder, 'CREATE TABLE topics (x int);');
    await assert.rejects(openMetadataStore({ dataDir, migrationsFolder: folder }), (err: unknown) => {
      assert.ok(err instanceof MigrationError);
      assert.equal(err.migration, '9999_broken_on_purpose');
      assert.match(err.message, /migration 9999_broken_on_purpose failed: relation "topics" already exists/);
      return true;
    });
    // The good migrations stayed, and the directory opens again.
    const store = await openMetadataStore({ dataDir });
    await store.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
  }
});
