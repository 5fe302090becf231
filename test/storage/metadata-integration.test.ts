// Storage over the real metadata store (PGlite, and PostgreSQL when its binaries are installed),
// through the read-through cache as the agent uses it: flush commits, lease fencing, an ambiguous
// commit, reads, and the orphan cleaner.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../../metadata/index.js';
import { CachedMetadataStore } from '../../metadata/cache.js';
import type { MetadataStore } from '../../metadata/types.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { LocalObjectStore } from '../../storage/local-store.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { SegmentReader } from '../../storage/segment-reader.js';
import { OrphanCleaner } from '../../storage/orphan-cleaner.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { makeBatch } from './batches.js';

interface Db {
  store: MetadataStore;
  close(): Promise<void>;
}

const DATABASES: Array<{ name: string; skip: string | false; open(): Promise<Db> }> = [
  {
    name: 'PGlite',
    skip: false,
    async open() {
      const dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-storage-pglite-'));
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

/** Makes the inner store's commitFlush apply and then throw, `times` times (a lost response). */
function losingResponses(inner: MetadataStore): { store: MetadataStore; lose(times: number): void } {
  let lose = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commitFlush') {
        return async (...args: Parameters<MetadataStore['commitFlush']>) => {
          const r = await target.commitFlush(...args);
          if (lose > 0) {
            lose--;
            throw new Error('connection reset after COMMIT (injected)');
          }
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store, lose: (t) => (lose = t) };
}

for (const db of DATABASES) {
  describe(`storage over the metadata store: ${db.name}`, { skip: db.skip }, () => {
    let d: Db;
    let dir: string;
    let objects: LocalObjectStore;
    before(async () => {
      d = await db.open();
      dir = await mkdtemp(join(tmpdir(), 'streamhouse-storage-int-'));
      objects = new LocalObjectStore({ kind: 'local', dir, fsync: false });
    });
    after(async () => {
      await d?.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function lead(meta: MetadataStore, writer: SegmentWriter, agent: string, topic: string, p: number, ttlMs = 30_000) {
      const lease = await meta.acquirePartitionLease(topic, p, agent, ttlMs);
      assert.ok(lease, `lease on ${topic}-${p}`);
      const part = await meta.getPartition(topic, p);
      writer.openPartition(topic, p, { leaseEpoch: lease.epoch, highWatermark: part!.highWatermark });
      return lease;
    }

    test('produce, commit and read back; a lost commit response is recognised; lease fencing', async () => {
      const faulty = losingResponses(d.store);
      const meta = new CachedMetadataStore(faulty.store);
      const topic = `st-${db.name}-1`;
      await meta.createTopic({ name: topic, partitionCount: 2 });
      const writer = new SegmentWriter({ objectStore: objects, metadata: meta, agentId: 'agent-a', flushMs: 5 });
      const reader = new SegmentReader({ objectStore: objects, metadata: meta });
      writer.onCommit((e) => reader.onCommitted(e));
      // A short lease on partition 0 (long enough for the commits below on a loaded machine).
      await lead(meta, writer, 'agent-a', topic, 0, 2_000);
      await lead(meta, writer, 'agent-a', topic, 1);
      const b = [makeBatch(), makeBatch(), makeBatch()];
      assert.deepEqual(await Promise.all([writer.append(topic, 0, b[0]), writer.append(topic, 1, b[1])]), [
        { baseOffset: 0, lastOffset: 2 },
        { baseOffset: 0, lastOffset: 2 },
      ]);
      faulty.lose(1);
      assert.deepEqual(await writer.append(topic, 0, b[2]), { baseOffset: 3, lastOffset: 5 });
      assert.equal((await d.store.getPartition(topic, 0))!.highWatermark, 6);
      assert.equal((await d.store.listSegments(topic, 0)).length, 2);
      const cold = new SegmentReader({ objectStore: objects, metadata: d.store, tailCacheBytes: 0 });
      assert.deepEqual(await cold.read(topic, 0, 0, 1 << 20, 6), [b[0], b[2]]);
      assert.deepEqual(await reader.read(topic, 0, 4, 1 << 20, 6), [b[2]]);

      // Agent B takes partition 0 once A's lease expires: A's next commit is fenced on the lease.
      let leaseB = await d.store.acquirePartitionLease(topic, 0, 'agent-b', 30_000);
      for (let i = 0; leaseB === undefined && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        leaseB = await d.store.acquirePartitionLease(topic, 0, 'agent-b', 30_000);
      }
      assert.ok(leaseB && leaseB.epoch > 1);
      const [r0, r1] = await Promise.allSettled([writer.append(topic, 0, makeBatch()), writer.append(topic, 1, makeBatch())]);
      assert.ok(r0.status === 'rejected' && r0.reason instanceof KafkaError && r0.reason.code === ErrorCode.NOT_LEADER_OR_FOLLOWER, String((r0 as PromiseRejectedResult).reason));
      assert.deepEqual(r1, { status: 'fulfilled', value: { baseOffset: 3, lastOffset: 5 } });
      assert.equal((await d.store.getPartition(topic, 0))!.highWatermark, 6, 'nothing of the fenced append is visible');

      // B continues the log at the committed high watermark.
      const writerB = new SegmentWriter({ objectStore: objects, metadata: d.store, agentId: 'agent-b', flushMs: 5 });
      writerB.openPartition(topic, 0, { leaseEpoch: leaseB.epoch, highWatermark: (await d.store.getPartition(topic, 0))!.highWatermark });
      const fromB = makeBatch();
      assert.deepEqual(await writerB.append(topic, 0, fromB), { baseOffset: 6, lastOffset: 8 });
      assert.deepEqual(await cold.read(topic, 0, 0, 1 << 20, 9), [b[0], b[2], fromB]);
      const found = await cold.offsetForTimestamp(topic, 0, 0, { highWatermark: 9 });
      assert.equal(found?.offset, 0);
      await writer.close();
      await writerB.close();
    });

    test('the orphan cleaner keeps what segment rows reference and deletes the rest', async () => {
      const topic = `st-${db.name}-2`;
      await d.store.createTopic({ name: topic, partitionCount: 1 });
      const writer = new SegmentWriter({ objectStore: objects, metadata: d.store, agentId: 'agent-c', flushMs: 5 });
      await lead(d.store, writer, 'agent-c', topic, 0);
      await writer.append(topic, 0, makeBatch());
      await writer.close();
      await objects.put('segments/agent-c/00000000000000-orphan.seg', Buffer.from('never committed'));
      const cleaner = new OrphanCleaner({ objectStore: objects, metadata: d.store, graceMs: 1000, clock: { now: () => Date.now() + 5000 } });
      const res = await cleaner.runOnce();
      assert.ok(res.deleted >= 1);
      const keys = (await objects.list('segments/')).map((o) => o.key);
      assert.ok(!keys.includes('segments/agent-c/00000000000000-orphan.seg'));
      for (const s of await d.store.listSegments(topic, 0)) assert.ok(keys.includes(s.s3Key));
    });
  });
}
