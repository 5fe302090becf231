// PostgreSQL faults: unreachable at start, connections killed or the server crashing at runtime (callers
// get retriable errors, nothing half-written, the pool recovers), pool limits, and migrations (idempotent,
// concurrent, a failing one named).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { openMetadataStore, MigrationError } from '../../metadata/index.js';
import { defaultMigrationsFolder } from '../../metadata/migrate.js';
import { statement } from '../../metadata/driver.js';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { freePort } from '../helpers/ports.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { flushEntry, unique, writeBrokenMigrations } from './contract.js';

let server: PostgresServer;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

function assertRetriable(err: unknown): void {
  assert.ok(err instanceof KafkaError, `expected a KafkaError, got ${String(err)}`);
  assert.equal(err.code, ErrorCode.KAFKA_STORAGE_ERROR, err.message);
  assert.equal(err.retriable, true);
  assert.ok(err.cause !== undefined, 'keeps the cause');
}

async function admin<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('metadata on PostgreSQL: start-up failures', () => {
  it('an unreachable server gives a clear error naming host and port', async () => {
    const port = await freePort();
    await assert.rejects(openMetadataStore({ databaseUrl: `postgres://someone:secret@127.0.0.1:${port}/meta`, dataDir: '' }), (err: unknown) => {
      assert.ok(err instanceof KafkaError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /Check that PostgreSQL is running/);
      assert.match(err.message, /ECONNREFUSED/);
      assert.doesNotMatch(err.message, /secret/, 'no password in messages');
      return true;
    });
  });

  it('a missing database is named', async () => {
    await assert.rejects(openMetadataStore({ databaseUrl: `postgres://postgres@127.0.0.1:${server.port}/nope`, dataDir: '' }), /database "nope" does not exist/);
  });
});

describe('metadata on PostgreSQL: connection loss at runtime', () => {
  it('backends terminated: callers get retriable errors or success, then everything works', async () => {
    const url = await server.createDatabase();
    const store = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    try {
      const name = unique('term');
      await store.createTopic({ name, partitionCount: 4 });
      await Promise.all([...Array(10)].map(() => store.getTopic(name))); // fill the pool
      const killed = await admin<{ n: number }>(
        server.url,
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'streamhouse'`,
        [url.slice(url.lastIndexOf('/') + 1)],
      );
      assert.ok(killed[0]!.n > 0);
      const ops: Array<Promise<unknown>> = [];
      for (let i = 0; i < 20; i++) {
        ops.push(store.getTopic(name), store.getPartitions(name), store.commitOffset('g', { topic: name, partitionId: 0, offset: i, leaderEpoch: 0, metadata: null }));
      }
      const results = await Promise.allSettled(ops);
      for (const r of results) if (r.status === 'rejected') assertRetriable(r.reason);
      // The pool has reconnected.
      assert.equal((await store.getTopic(name))!.partitionCount, 4);
      await store.commitOffset('g', { topic: name, partitionId: 0, offset: 99, leaderEpoch: 0, metadata: null });
      assert.equal((await store.fetchOffsets('g'))[0]!.offset, 99);
    } finally {
      await store.close();
    }
  });

  it('server crash mid-flush: retriable errors, no half-written commit, recovery after restart', async () => {
    const url = await server.createDatabase();
    const store = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    try {
      const name = unique('crash');
      await store.createTopic({ name, partitionCount: 4 });
      const agent = unique('agent');
      const leases = await store.acquirePartitionLeases(agent, [0, 1, 2, 3].map((partitionId) => ({ topic: name, partitionId })), 120_000);
      const hw = [0, 0, 0, 0];
      let stop = false;
      const errors: unknown[] = [];
      // Writers keep committing 4-partition flushes while the server is killed under them.
      const writer = (async () => {
        while (!stop) {
          try {
            const res = await store.commitFlush(agent, leases.map((l) => flushEntry(name, l.partitionId, l.epoch, hw[l.partitionId]!, 3)));
            if (res.committed) for (let p = 0; p < 4; p++) hw[p]! += 3;
            else {
              // The outcome of a commit cut off by the crash is unknown: re-read where we are.
              const parts = await store.getPartitions(name);
              for (const p of parts) hw[p.partitionId] = p.highWatermark;
            }
          } catch (err) {
            errors.push(err);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 150));
      await server.kill();
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(store.getTopic(name), (err) => (assertRetriable(err), true));
      await server.restart();
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await writer;
      assert.ok(errors.length > 0, 'the crash was noticed');
      for (const err of errors) assertRetriable(err);
      // All or nothing: every partition has the same contiguous run of segments up to its high watermark.
      const parts = await store.getPartitions(name);
      const hws = parts.map((p) => p.highWatermark);
      assert.ok(hws[0]! > 0);
      assert.deepEqual(hws, [hws[0], hws[0], hws[0], hws[0]], 'the four partitions moved together');
      for (const p of parts) {
        const segs = await store.listSegments(name, p.partitionId);
        let next = 0;
        for (const s of segs) {
          assert.equal(s.baseOffset, next);
          next = s.endOffset + 1;
        }
        assert.equal(next, p.highWatermark);
      }
      // And the store keeps working.
      const res = await store.commitFlush(agent, leases.map((l) => flushEntry(name, l.partitionId, l.epoch, hws[0]!, 1)));
      assert.deepEqual(res, { committed: true });
    } finally {
      await store.close();
    }
  });

  it('a connection killed inside a transaction, between statements, fails that call only', async () => {
    const url = await server.createDatabase();
    const store = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    try {
      const driver = (store as SqlMetadataStore).driver;
      const pidOf = statement('test_backend_pid', 'SELECT pg_backend_pid() AS pid');
      await assert.rejects(
        driver.transaction('test', async (tx) => {
          const [row] = await tx.query<{ pid: number }>(pidOf);
          await admin(server.url, 'SELECT pg_terminate_backend($1)', [row!.pid]);
          await new Promise((r) => setTimeout(r, 100)); // the client sees the socket close while idle
          await tx.query(pidOf);
        }),
        (err) => (assertRetriable(err), true),
      );
      assert.ok(Array.isArray(await store.listTopics()), 'the pool replaced the connection');
    } finally {
      await store.close();
    }
  });

  it('pool settings are honoured: a query waiting longer than acquireTimeoutMs fails retriably', async () => {
    const url = await server.createDatabase();
    const store = await openMetadataStore({ databaseUrl: url, dataDir: '', pool: { max: 1, acquireTimeoutMs: 200 } });
    try {
      const driver = (store as SqlMetadataStore).driver;
      const busy = driver.query(statement('test_sleep', 'SELECT pg_sleep(1.5)'));
      const started = Date.now();
      await assert.rejects(store.listTopics(), (err) => (assertRetriable(err), true));
      const waited = Date.now() - started;
      assert.ok(waited >= 150 && waited < 1200, `waited ${waited} ms, not until the connection was free`);
      await busy;
      assert.ok(Array.isArray(await store.listTopics()));
    } finally {
      await store.close();
    }
  });
});

describe('metadata on PostgreSQL: statement timeouts', () => {
  it('a statement running past statementTimeoutMs is cancelled by the server and fails REQUEST_TIMED_OUT; a lock wait too', async () => {
    const url = await server.createDatabase();
    const store = await openMetadataStore({ databaseUrl: url, dataDir: '', pool: { statementTimeoutMs: 300 } });
    try {
      const driver = (store as SqlMetadataStore).driver;
      await assert.rejects(driver.query(statement('test_sleep_long', 'SELECT pg_sleep(3)')), (err: unknown) => {
        assert.ok(err instanceof KafkaError && err.code === ErrorCode.REQUEST_TIMED_OUT, String(err));
        return true;
      });
      // A flush commit waiting on a lock another session holds: cancelled too, nothing written.
      await store.createTopic({ name: 'locked', partitionCount: 1 });
      const lease = await store.acquirePartitionLease('locked', 0, 'agent-t', 30_000);
      const blocker = new pg.Client({ connectionString: url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query(`SELECT * FROM partitions WHERE topic = 'locked' FOR UPDATE`);
        await assert.rejects(store.commitFlush('agent-t', [flushEntry('locked', 0, lease!.epoch, 0, 1)]), (err: unknown) => {
          assert.ok(err instanceof KafkaError && err.code === ErrorCode.REQUEST_TIMED_OUT, String(err));
          return true;
        });
        await blocker.query('ROLLBACK');
      } finally {
        await blocker.end();
      }
      assert.equal((await store.getPartition('locked', 0))!.highWatermark, 0);
      assert.ok(Array.isArray(await store.listTopics()), 'the pool still works');
    } finally {
      await store.close();
    }
  });
});

describe('metadata on PostgreSQL: migrations', () => {
  const journalTags = () =>
    (JSON.parse(readFileSync(join(defaultMigrationsFolder(), 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }).entries;

  async function applied(url: string): Promise<number> {
    const rows = await admin<{ n: number }>(url, 'SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    return rows[0]!.n;
  }

  it('are idempotent, also when agents start at the same moment', async () => {
    const url = await server.createDatabase();
    const stores: MetadataStore[] = await Promise.all([...Array(4)].map(() => openMetadataStore({ databaseUrl: url, dataDir: '' })));
    await Promise.all(stores.map((s) => s.close()));
    assert.equal(await applied(url), journalTags().length);
    const again = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    await again.close();
    assert.equal(await applied(url), journalTags().length);
    const tables = await admin<{ table_name: string }>(url, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    assert.deepEqual(
      tables.map((t) => t.table_name),
      [
        'aborted_txns', 'acls', 'agents', 'cluster_settings', 'compaction_checkpoints', 'consumer_groups', 'consumer_offsets', 'coordinator_leases', 'partition_leases', 'partitions', 'producer_snapshots', 'segment_objects', 'segments', 'topics', 'transactions', 'txn_offsets', 'user_credentials',
      ],
    );
  });

  it('a failing migration is named, and leaves nothing of itself behind', async () => {
    const url = await server.createDatabase();
    const folder = mkdtempSync(join(tmpdir(), 'streamhouse-migrations-'));
    try {
      writeBrokenMigrations(folder, 'CREATE TABLE left_behind (x int);\n--> statement-breakpoint\nCREATE TABLE topics (x int);');
      await assert.rejects(openMetadataStore({ databaseUrl: url, dataDir: '', migrationsFolder: folder }), (err: unknown) => {
        assert.ok(err instanceof MigrationError);
        assert.equal(err.migration, '9999_broken_on_purpose');
        assert.match(err.message, /migration 9999_broken_on_purpose failed: relation "topics" already exists/);
        return true;
      });
      assert.equal(await applied(url), journalTags().length, 'the good migrations stay applied');
      const leftover = await admin(url, `SELECT 1 FROM information_schema.tables WHERE table_name = 'left_behind'`);
      assert.equal(leftover.length, 0, 'the failed migration was rolled back');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
