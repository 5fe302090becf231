// Merging over the real metadata store (PGlite, and PostgreSQL when installed) and a local object store:
// small segments of multi-partition flush objects become per-partition objects, batches byte for byte;
// a reader that cached the old rows keeps reading; the old objects go only through the registry
// cleaner after its grace; a merge by a leader that lost its lease or handed the partition off is not
// swapped in and leaves no object behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { Merger, type LedPartition } from '../../storage/merger.js';
import { RegistryCleaner } from '../../storage/object-registry.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { makeBatch } from './batches.js';

const DATABASES: Array<{ name: string; skip: string | false; open(): Promise<{ store: MetadataStore; close(): Promise<void> }> }> = [
  {
    name: 'PGlite',
    skip: false,
    async open() {
      const dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-merge-pglite-'));
      const store = await openMetadataStore({ dataDir });
      return { store, close: async () => (await store.close(), await rm(dataDir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false,
    async open() {
      const server: PostgresServer = await startPostgres();
      const store = await openMetadataStore({ databaseUrl: await server.createDatabase(), dataDir: '' });
      return { store, close: async () => (await store.close(), await server.stop()) };
    },
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const db of DATABASES) {
  describe(`merging: ${db.name}`, { skip: db.skip }, () => {
    let d: { store: MetadataStore; close(): Promise<void> };
    let reg: SqlStorageMetadata;
    let dir: string;
    let objects: LocalObjectStore;
    before(async () => {
      d = await db.open();
      reg = new SqlStorageMetadata((d.store as SqlMetadataStore).driver);
      dir = await mkdtemp(join(tmpdir(), 'streamhouse-merge-objects-'));
      objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
    });
    after(async () => {
      await d?.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function produce(topic: string, partitions: number, cycles: number, records = (c: number) => 1 + (c % 3)) {
      await d.store.createTopic({ name: topic, partitionCount: partitions });
      const writer = new SegmentWriter({ objectStore: objects, metadata: d.store, registry: reg, agentId: 'agent-m', flushMs: 1 });
      const led: LedPartition[] = [];
      for (let p = 0; p < partitions; p++) {
        const lease = await d.store.acquirePartitionLease(topic, p, 'agent-m', 60_000);
        writer.openPartition(topic, p, { leaseEpoch: lease!.epoch, highWatermark: 0 });
        led.push({ topic, partitionId: p, epoch: lease!.epoch });
      }
      const sent: Buffer[][] = Array.from({ length: partitions }, () => []);
      for (let c = 0; c < cycles; c++) {
        await Promise.all(
          led.map(async (l) => {
            const b = makeBatch({ records: records(c), valueSize: 200 });
            await writer.append(topic, l.partitionId, b);
            sent[l.partitionId]!.push(b); // as stored: the writer assigned baseOffset and leader epoch in place
          }),
        );
      }
      await writer.close();
      return { led, sent };
    }

    test('small segments become one per-partition object per target size; reads are byte for byte the same, before and after the old objects go', async () => {
      const topic = `merge-${db.name}-1`;
      const { led, sent } = await produce(topic, 3, 24);
      const before0 = await d.store.listSegments(topic, 0);
      assert.equal(before0.length, 24);
      const warm = new SegmentReader({ objectStore: objects, metadata: d.store, tailCacheBytes: 0 });
      const hw = before0[before0.length - 1]!.endOffset + 1;
      const readAll = async (r: SegmentReader, p: number) => {
        const out: Buffer[] = [];
        for (let off = 0; off < hw; ) {
          const got = await r.read(topic, p, off, 1 << 20, hw);
          out.push(...got);
          const last = got[got.length - 1]!;
          off = Number(last.readBigInt64BE(0)) + last.readInt32BE(23) + 1; // baseOffset + lastOffsetDelta + 1
        }
        return out;
      };
      assert.deepEqual(await readAll(warm, 0), sent[0]);
      const merger = new Merger({
        objectStore: objects,
        metadata: d.store,
        storage: reg,
        agentId: 'agent-m',
        leading: () => led,
        stillLeading: () => true,
        targetBytes: 8 * 1024,
        maxAgeMs: 60_000,
        bytesPerSecond: 1 << 30,
      });
      const merged = await merger.runOnce();
      assert.ok(merged >= 3, `merged ${merged}`);
      for (const l of led) {
        const rows = await d.store.listSegments(topic, l.partitionId);
        assert.ok(rows.length < 24 / 2, `${rows.length} rows after merging`);
        for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.baseOffset, rows[i - 1]!.endOffset + 1, 'contiguous');
        const cold = new SegmentReader({ objectStore: objects, metadata: d.store, tailCacheBytes: 0 });
        assert.deepEqual(await readAll(cold, l.partitionId), sent[l.partitionId], 'byte for byte');
      }
      // The warm reader still holds the old rows: the old objects are still there (grace).
      assert.deepEqual(await readAll(warm, 0), sent[0]);
      const cleaner = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { pendingTimeoutMs: 0, deleteGraceMs: 0, reclaimAfterMs: 0 } });
      await sleep(5);
      const res = await cleaner.runOnce();
      assert.ok(res.deleted >= 1, 'old flush objects deleted once no row references them');
      // Old objects gone: the warm reader looks the rows up again.
      const fresh = new SegmentReader({ objectStore: objects, metadata: d.store, tailCacheBytes: 0, blockCacheBytes: 0 });
      assert.deepEqual(await readAll(fresh, 1), sent[1]);
      assert.deepEqual(await readAll(warm, 2), sent[2]);
      // Every object in the store is referenced or registered.
      const keys = (await objects.list('segments/')).map((o) => o.key);
      const known = await reg.knownObjects(keys);
      assert.equal(known.size, keys.length);
    });

    test('mergeCandidates aggregates the small rows from an offset on', async () => {
      const topic = `merge-${db.name}-3`;
      await produce(topic, 1, 6);
      const rows = await d.store.listSegments(topic, 0);
      assert.equal(rows.length, 6);
      const c = await reg.mergeCandidates(topic, 0, rows[2]!.baseOffset, 1 << 20);
      assert.equal(c.rows, 4);
      assert.equal(c.bytes, rows.slice(2).reduce((n, r) => n + r.byteLength, 0));
      assert.equal(c.oldestAfterFirst, Math.min(...rows.slice(3).map((r) => r.createdAt)));
      const none = await reg.mergeCandidates(topic, 0, 0, 1);
      assert.deepEqual([none.rows, none.bytes, none.oldestAfterFirst], [0, 0, null]);
    });

    test('a pass lists no rows when no run can be due, and lists from the first small row after the merged ones', async () => {
      const topic = `merge-${db.name}-4`;
      const { led } = await produce(topic, 1, 24, () => 3);
      const listed: number[] = [];
      const metadata = {
        listSegments: (t: string, p: number, from?: number, limit?: number) => (listed.push(from ?? 0), d.store.listSegments(t, p, from, limit)),
        now: () => d.store.now(),
      };
      const opts = { objectStore: objects, metadata, storage: reg, agentId: 'agent-m', leading: () => led, stillLeading: () => true, bytesPerSecond: 1 << 30 };
      // 24 rows of well under 1 KiB, far below half of 1 MiB, none an hour old: nothing to list.
      const idle = new Merger({ ...opts, targetBytes: 1 << 20, maxAgeMs: 3_600_000 });
      assert.equal(await idle.runOnce(), 0);
      assert.deepEqual(listed, []);
      // Every run due by age: the first pass merges them all (the first one cut by the target, so at least half of it).
      // Rows of one size; a target of two and a half rows: runs of two, each merged row bigger than half the target.
      const rows0 = await d.store.listSegments(topic, 0);
      const target = Math.floor(Math.max(...rows0.map((r) => r.byteLength)) * 2.5);
      const merger = new Merger({ ...opts, targetBytes: target, maxAgeMs: 0 });
      await sleep(5);
      assert.ok((await merger.runOnce()) >= 1);
      const after = await d.store.listSegments(topic, 0);
      assert.ok(after[0]!.byteLength >= target / 2, 'the first row is a merged one of at least half the target');
      const firstSmall = after.find((r) => r.byteLength < target / 2)!;
      assert.ok(firstSmall.baseOffset > 0);
      listed.length = 0;
      await sleep(5);
      await merger.runOnce();
      const smallRows = after.filter((r) => r.baseOffset >= firstSmall.baseOffset).length;
      if (smallRows >= 2) assert.equal(listed[0], firstSmall.baseOffset, 'the second pass lists from the first small row');
      else assert.deepEqual(listed, [], 'one small row left (the newest): nothing to list');
      assert.ok(listed.every((from) => from >= firstSmall.baseOffset), 'never from the log start again');
    });

    test('a merge by a leader that lost its lease, or handed the partition off, is not swapped in and leaves no object', async () => {
      const topic = `merge-${db.name}-2`;
      const { led } = await produce(topic, 1, 8);
      const rows = await d.store.listSegments(topic, 0);
      const keysBefore = (await objects.list('segments/')).map((o) => o.key).sort();
      const stale = { ...led[0]!, epoch: led[0]!.epoch + 7 };
      const merger = new Merger({ objectStore: objects, metadata: d.store, storage: reg, agentId: 'agent-m', leading: () => [stale], stillLeading: () => true, targetBytes: 1 << 20, maxAgeMs: 0, bytesPerSecond: 1 << 30 });
      await sleep(5);
      assert.equal(await merger.runOnce(), 0);
      assert.equal(merger.stats.refused, 1);
      assert.deepEqual((await d.store.listSegments(topic, 0)).map((r) => r.id), rows.map((r) => r.id));
      assert.deepEqual((await objects.list('segments/')).map((o) => o.key).sort(), keysBefore, 'the refused merge object was deleted');
      const handedOff = new Merger({ objectStore: objects, metadata: d.store, storage: reg, agentId: 'agent-m', leading: () => led, stillLeading: () => false, targetBytes: 1 << 20, maxAgeMs: 0 });
      assert.equal(await handedOff.runOnce(), 0);
      assert.equal(handedOff.stats.bytesWritten, 0, 'stopped before writing');
    });
  });
}
