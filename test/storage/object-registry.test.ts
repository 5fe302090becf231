// The object registry (segment_objects) over PGlite and PostgreSQL: registration before upload, live
// with the flush commit, reference counts kept by the triggers on every path (commit, retention, swap,
// topic deletion), deletion decided by the database only, a late commit of a deleted object refused,
// adoption of objects written before the registry, and the migration's backfill of referenced objects.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { defaultMigrationsFolder } from '../../metadata/migrate.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { RegistryCleaner } from '../../storage/object-registry.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { makeBatch } from './batches.js';
import { cutoffFromAggregate, retentionCutoff } from '../../src/retention.js';

interface Db {
  store: MetadataStore;
  reopen?(): Promise<void>;
  close(): Promise<void>;
}

const DATABASES: Array<{ name: string; skip: string | false; open(folder?: string): Promise<Db> }> = [
  {
    name: 'PGlite',
    skip: false,
    async open(folder) {
      const dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-registry-pglite-'));
      const store = await openMetadataStore({ dataDir, migrationsFolder: folder });
      return { store, close: async () => (await store.close(), await rm(dataDir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false,
    async open(folder) {
      const server: PostgresServer = await startPostgres();
      const store = await openMetadataStore({ databaseUrl: await server.createDatabase(), dataDir: '', migrationsFolder: folder });
      return { store, close: async () => (await store.close(), await server.stop()) };
    },
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ZERO = { pendingTimeoutMs: 0, deleteGraceMs: 0, reclaimAfterMs: 0 };

async function objectRow(store: MetadataStore, key: string) {
  const rows = await (store as SqlMetadataStore).driver.query<{ state: string; refCount: number; liveBytes: number; sizeBytes: number }>(
    { name: 'test_object_row', text: 'SELECT state, ref_count AS "refCount", live_bytes AS "liveBytes", size_bytes AS "sizeBytes" FROM segment_objects WHERE key = $1', idempotent: true },
    [key],
  );
  return rows[0];
}

for (const db of DATABASES) {
  describe(`object registry: ${db.name}`, { skip: db.skip }, () => {
    let d: Db;
    let reg: SqlStorageMetadata;
    let dir: string;
    let objects: LocalObjectStore;
    before(async () => {
      d = await db.open();
      reg = new SqlStorageMetadata((d.store as SqlMetadataStore).driver);
      dir = await mkdtemp(join(tmpdir(), 'streamhouse-registry-objects-'));
      objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
    });
    after(async () => {
      await d?.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function lead(writer: SegmentWriter, agent: string, topic: string, p: number) {
      const lease = await d.store.acquirePartitionLease(topic, p, agent, 30_000);
      assert.ok(lease);
      writer.openPartition(topic, p, { leaseEpoch: lease.epoch, highWatermark: (await d.store.getPartition(topic, p))!.highWatermark });
      return lease;
    }

    test('a flush registers its object before the upload and the commit makes it live; retention and the cleaner delete it once unreferenced', async () => {
      const topic = `reg-${db.name}-1`;
      await d.store.createTopic({ name: topic, partitionCount: 2 });
      const writer = new SegmentWriter({ objectStore: objects, metadata: d.store, registry: reg, agentId: 'agent-r', flushMs: 5 });
      await lead(writer, 'agent-r', topic, 0);
      await lead(writer, 'agent-r', topic, 1);
      await Promise.all([writer.append(topic, 0, makeBatch()), writer.append(topic, 1, makeBatch())]);
      await writer.close();
      const rows = [...(await d.store.listSegments(topic, 0)), ...(await d.store.listSegments(topic, 1))];
      assert.equal(rows.length, 2);
      assert.equal(rows[0]!.s3Key, rows[1]!.s3Key, 'one object for the cycle');
      const key = rows[0]!.s3Key;
      let row = await objectRow(d.store, key);
      assert.equal(row?.state, 'live');
      assert.equal(row?.refCount, 2);
      assert.equal(row?.liveBytes, rows[0]!.byteLength + rows[1]!.byteLength);
      // Reserved before the upload (keys are registered 16 at a time, size unknown): the commit sets the size.
      assert.equal(row?.sizeBytes, (await objects.list('segments/')).find((o) => o.key === key)?.size);

      // Nothing to delete while referenced, even with zero bounds.
      const cleaner = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: ZERO, tombstoneMs: 60_000 });
      await sleep(5);
      await cleaner.runOnce();
      assert.ok((await objects.list('segments/')).some((o) => o.key === key));

      await d.store.deleteSegmentsBefore(topic, 0, 1_000);
      row = await objectRow(d.store, key);
      assert.deepEqual([row?.state, row?.refCount, row?.liveBytes], ['live', 1, rows[1]!.byteLength]);
      await d.store.deleteSegmentsBefore(topic, 1, 1_000);
      assert.equal((await objectRow(d.store, key))?.state, 'unreferenced');
      // A grace on the database clock first: a long grace keeps it.
      const patient = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { ...ZERO, deleteGraceMs: 60_000 } });
      assert.equal((await patient.runOnce()).deleted, 0);
      await sleep(5);
      const res = await cleaner.runOnce();
      assert.ok(res.deleted >= 1);
      assert.ok(!(await objects.list('segments/')).some((o) => o.key === key));
      assert.equal((await objectRow(d.store, key))?.state, 'deleted');
      const purger = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: ZERO, tombstoneMs: 0 });
      await sleep(5);
      assert.ok((await purger.runOnce()).purged >= 1);
      assert.equal(await objectRow(d.store, key), undefined);
    });

    test('an upload never committed is deleted after the pending bound, and a late commit naming it is refused', async () => {
      const topic = `reg-${db.name}-2`;
      await d.store.createTopic({ name: topic, partitionCount: 1 });
      const lease = await d.store.acquirePartitionLease(topic, 0, 'agent-late', 30_000);
      const key = 'segments/agent-late/00000000000001-late.seg';
      await reg.registerObject({ key, bucket: objects.bucket, sizeBytes: 10, agentId: 'agent-late' });
      await objects.put(key, Buffer.from('uploaded, commit pending'));
      const keep = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { ...ZERO, pendingTimeoutMs: 60_000 } });
      assert.equal((await keep.runOnce()).deleted, 0, 'recently registered: kept');
      await sleep(5);
      const cleaner = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: ZERO });
      assert.ok((await cleaner.runOnce()).deleted >= 1);
      assert.ok(!(await objects.list('segments/')).some((o) => o.key === key));
      await assert.rejects(
        d.store.commitFlush('agent-late', [
          {
            topic,
            partitionId: 0,
            leaseEpoch: lease!.epoch,
            expectedHighWatermark: 0,
            segment: { topic, partitionId: 0, baseOffset: 0, endOffset: 0, recordCount: 1, sizeBytes: 10, s3Bucket: objects.bucket, s3Key: key, bytePosition: 0, byteLength: 10, maxTimestamp: 1 },
          },
        ]),
        (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.KAFKA_STORAGE_ERROR && /being deleted/.test(err.message),
      );
      assert.equal((await d.store.getPartition(topic, 0))!.highWatermark, 0, 'the refused commit wrote nothing');
    });

    test('topic deletion (cascade) leaves its objects unreferenced; a swap moves counts from old objects to the new one', async () => {
      const topic = `reg-${db.name}-3`;
      await d.store.createTopic({ name: topic, partitionCount: 1 });
      const writer = new SegmentWriter({ objectStore: objects, metadata: d.store, registry: reg, agentId: 'agent-s', flushMs: 1 });
      const lease = await lead(writer, 'agent-s', topic, 0);
      for (let i = 0; i < 3; i++) await writer.append(topic, 0, makeBatch());
      await writer.close();
      const rows = await d.store.listSegments(topic, 0);
      assert.equal(rows.length, 3);
      const merged = 'segments/agent-s/merged.seg';
      await reg.registerObject({ key: merged, bucket: objects.bucket, sizeBytes: 100, agentId: 'agent-s' });
      const newRow = { topic, partitionId: 0, baseOffset: 0, endOffset: rows[2]!.endOffset, recordCount: 9, sizeBytes: 1, s3Bucket: objects.bucket, s3Key: merged, bytePosition: 0, byteLength: 100, maxTimestamp: 1 };
      assert.equal(await reg.swapSegments({ topic, partitionId: 0, agentId: 'someone-else', leaseEpoch: lease.epoch, removeIds: rows.map((r) => r.id), add: [newRow] }), 'lease');
      assert.equal(await reg.swapSegments({ topic, partitionId: 0, agentId: 'agent-s', leaseEpoch: lease.epoch, removeIds: [...rows.map((r) => r.id), 'gone'], add: [newRow] }), 'changed');
      assert.equal((await d.store.listSegments(topic, 0)).length, 3, 'a refused swap changes nothing');
      assert.equal(await reg.swapSegments({ topic, partitionId: 0, agentId: 'agent-s', leaseEpoch: lease.epoch, removeIds: rows.map((r) => r.id), add: [newRow] }), 'swapped');
      for (const r of rows) assert.equal((await objectRow(d.store, r.s3Key))?.state, 'unreferenced');
      assert.deepEqual([(await objectRow(d.store, merged))?.state, (await objectRow(d.store, merged))?.refCount], ['live', 1]);
      await d.store.deleteTopic(topic);
      assert.equal((await objectRow(d.store, merged))?.state, 'unreferenced');
    });

    test('a cleaner killed after its claim: the claimed objects are claimed again after reclaimAfterMs and deleted', async () => {
      const key = `segments/agent-dead/00000000000009-${db.name}.seg`;
      await reg.registerObject({ key, bucket: objects.bucket, sizeBytes: 5, agentId: 'agent-dead' });
      await objects.put(key, Buffer.from('never committed'));
      await sleep(5);
      // The "killed" cleaner: its claim committed, nothing after it ran.
      const claimed = await reg.claimObjectDeletions({ pendingTimeoutMs: 0, deleteGraceMs: 0, reclaimAfterMs: 0 }, 1000);
      assert.ok(claimed.some((c) => c.key === key && c.from === 'pending'));
      assert.equal((await objectRow(d.store, key))?.state, 'deleting');
      const early = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { pendingTimeoutMs: 0, deleteGraceMs: 0, reclaimAfterMs: 60_000 } });
      await early.runOnce();
      assert.ok((await objects.list('segments/')).some((o) => o.key === key), 'a fresh claim is left to its cleaner');
      await sleep(5);
      const later = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { pendingTimeoutMs: 0, deleteGraceMs: 0, reclaimAfterMs: 0 } });
      await later.runOnce();
      assert.ok(!(await objects.list('segments/')).some((o) => o.key === key));
      assert.equal((await objectRow(d.store, key))?.state, 'deleted');
    });

    test('retention from aggregates equals retention computed from every row', async () => {
      const topic = `reg-${db.name}-5`;
      await d.store.createTopic({ name: topic, partitionCount: 1 });
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      for (let i = 0; i < 40; i++) {
        await d.store.addSegment({ topic, partitionId: 0, baseOffset: i * 10, endOffset: i * 10 + 9, recordCount: 10, sizeBytes: 100 + rnd(900), s3Bucket: 'b', s3Key: `segments/ret-${db.name}-${i % 7}.seg`, bytePosition: 0, byteLength: 10, maxTimestamp: 1_000 + i * 100 + rnd(300) });
      }
      const rows = await d.store.listSegments(topic, 0, 0, 1000);
      for (let trial = 0; trial < 40; trial++) {
        const from = rnd(3) * 10;
        const retentionMs = rnd(3) === 0 ? -1 : rnd(5000);
        const retentionBytes = rnd(3) === 0 ? -1 : rnd(30_000);
        if (retentionMs < 0 && retentionBytes < 0) continue;
        const now = 5_000;
        const expected = retentionCutoff(rows.filter((r) => r.endOffset >= from), now, retentionMs, retentionBytes);
        const agg = await reg.retentionAggregate(topic, 0, from, { minTimestamp: retentionMs >= 0 ? now - retentionMs : undefined, maxBytes: retentionBytes >= 0 ? retentionBytes : undefined });
        const got = cutoffFromAggregate(agg, retentionMs >= 0, retentionBytes >= 0);
        // retentionCutoff answers undefined for "keep all"; the aggregate answers the first row then.
        assert.equal(got === from || got === rows.find((r) => r.endOffset >= from)?.baseOffset ? undefined : got, expected, `trial ${trial}: ms ${retentionMs} bytes ${retentionBytes} from ${from}`);
      }
    });

    test('objects written before the registry: unreferenced ones are adopted as pending and deleted, referenced ones registered live', async () => {
      const topic = `reg-${db.name}-4`;
      await d.store.createTopic({ name: topic, partitionCount: 1 });
      const old = 'segments/old-agent/00000000000002-orphan.seg';
      await objects.put(old, Buffer.from('left by an older version'));
      // An older agent's commit (no registration): the trigger registers the object it names.
      const legacy = 'segments/old-agent/00000000000003-legacy.seg';
      await objects.put(legacy, Buffer.from('x'.repeat(50)));
      await d.store.addSegment({ topic, partitionId: 0, baseOffset: 0, endOffset: 0, recordCount: 1, sizeBytes: 50, s3Bucket: objects.bucket, s3Key: legacy, bytePosition: 0, byteLength: 50, maxTimestamp: 1 });
      assert.equal((await objectRow(d.store, legacy))?.state, 'live');
      const cleaner = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: ZERO });
      assert.ok((await cleaner.adoptOnce()) >= 1);
      assert.equal((await objectRow(d.store, old))?.state, 'pending');
      assert.equal(await cleaner.adoptOnce(), 0, 'once per cluster');
      await sleep(5);
      await cleaner.runOnce();
      const keys = (await objects.list('segments/')).map((o) => o.key);
      assert.ok(!keys.includes(old));
      assert.ok(keys.includes(legacy));
    });
  });
}

describe('object registry migration: rows written before it are backfilled', () => {
  test('PGlite: objects referenced before the migration are live with their counts', async () => {
    const full = defaultMigrationsFolder();
    const partial = await mkdtemp(join(tmpdir(), 'streamhouse-migrations-'));
    try {
      await cp(full, partial, { recursive: true });
      const journalPath = join(partial, 'meta', '_journal.json');
      const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
      const upto = journal.entries.findIndex((e) => e.tag.endsWith('_object_registry'));
      journal.entries = journal.entries.slice(0, upto);
      await writeFile(journalPath, JSON.stringify(journal));
      const dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-backfill-'));
      try {
        let store = await openMetadataStore({ dataDir, migrationsFolder: partial });
        await store.createTopic({ name: 'before', partitionCount: 1 });
        for (let i = 0; i < 3; i++) {
          await store.addSegment({ topic: 'before', partitionId: 0, baseOffset: i, endOffset: i, recordCount: 1, sizeBytes: 10, s3Bucket: 'b', s3Key: i < 2 ? 'segments/a.seg' : 'segments/b.seg', bytePosition: i * 10, byteLength: 10, maxTimestamp: 1 });
        }
        await store.close();
        store = await openMetadataStore({ dataDir });
        try {
          assert.deepEqual(await objectRow(store, 'segments/a.seg'), { state: 'live', refCount: 2, liveBytes: 20, sizeBytes: 20 });
          assert.deepEqual(await objectRow(store, 'segments/b.seg'), { state: 'live', refCount: 1, liveBytes: 10, sizeBytes: 30 });
          await store.deleteSegmentsBefore('before', 0, 2);
          assert.equal((await objectRow(store, 'segments/a.seg'))?.state, 'unreferenced');
        } finally {
          await store.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  });
});
