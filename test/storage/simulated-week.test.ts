// A simulated week at 100 partitions: a fake clock (one step = one simulated hour, record timestamps from
// it), the real segment writer, merger, retention task (from aggregates) and registry cleaner, real
// PostgreSQL and the S3 test server. Time is compressed: each step is a few flush cycles, then one pass
// of each maintenance task. Checked every simulated day: segment rows per partition ≤ bytes retained /
// (half the target: merged rows hold at least that) + the rows of the last merge window (rows written
// since the partition's last merge, less than a target's worth); objects likewise; the registry holds a
// bounded number of rows; the cleaner's passes claim bounded batches; and at the end every object in the
// store is referenced, recently registered, or gone. Figures per day are printed (pass durations).
// test-file-timeout-ms: 900000
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import type { MetadataStore } from '../../metadata/types.js';
import { createObjectStore } from '../../storage/object-store.js';
import type { ObjectStore } from '../../storage/types.js';
import { SegmentWriter } from '../../storage/segment-writer.js';
import { Merger, type LedPartition } from '../../storage/merger.js';
import { RegistryCleaner } from '../../storage/object-registry.js';
import { RetentionTask } from '../../src/retention.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { makeBatch } from './batches.js';

const PARTITIONS = 100;
const HOURS = 7 * 24;
const CYCLES_PER_HOUR = 3;
const TARGET = 64 * 1024;
const HOUR = 3_600_000;
const RETENTION_MS = 3 * 24 * HOUR;

describe('a simulated week (PostgreSQL + S3 test server)', { skip: findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false }, () => {
  let pgServer: PostgresServer;
  let s3: S3TestServer;
  let md: MetadataStore;
  let objects: ObjectStore;
  before(async () => {
    [pgServer, s3] = await Promise.all([startPostgres(), startS3Server()]);
    md = await openMetadataStore({ databaseUrl: await pgServer.createDatabase(), dataDir: '' });
    objects = createObjectStore(s3.storeConfig({ prefix: 'week/' }) as never);
  });
  after(async () => {
    await md?.close();
    await objects?.close();
    await Promise.all([pgServer?.stop(), s3?.stop()]);
  });

  test('rows and objects per partition stay bounded by retained bytes / target + the last window; every object is accounted for', async () => {
    const reg = new SqlStorageMetadata((md as SqlMetadataStore).driver);
    let now = Date.UTC(2026, 0, 5);
    const clock = { now: () => now };
    const topic = 'week';
    await md.createTopic({ name: topic, partitionCount: PARTITIONS, config: { 'retention.ms': String(RETENTION_MS) } });
    // The writer's clock is the simulated one (20 minutes per cycle); its key reservations live seconds of
    // real time here, far within the registry's pending bound (database clock): never expire them by it.
    const writer = new SegmentWriter({ objectStore: objects, metadata: md, registry: reg, agentId: 'sim', flushMs: 60_000, clock, reserveMaxAgeMs: Number.MAX_SAFE_INTEGER });
    const led: LedPartition[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const lease = await md.acquirePartitionLease(topic, p, 'sim', 3_600_000);
      writer.openPartition(topic, p, { leaseEpoch: lease!.epoch, highWatermark: 0 });
      led.push({ topic, partitionId: p, epoch: lease!.epoch });
    }
    const merger = new Merger({
      objectStore: objects, metadata: md, storage: reg, agentId: 'sim', leading: () => led, stillLeading: () => true,
      targetBytes: TARGET, maxAgeMs: 3_600_000, bytesPerSecond: 1 << 30, clock,
    });
    const retention = new RetentionTask({
      metadata: md, aggregates: reg, partitions: { deleteRecords: (t, p, off) => md.setLogStartOffset(t, p, off) },
      leading: () => led, clock, log: { info: () => {}, warn: () => {}, debug: () => {}, error: () => {} } as never,
    });
    const cleaner = new RegistryCleaner({ objectStore: objects, metadata: reg, bounds: { pendingTimeoutMs: 600_000, deleteGraceMs: 0, reclaimAfterMs: 60_000 }, batchSize: 200 });
    const perDay: Array<{ day: number; maxRows: number; maxObjects: number; registry: number; cleanerMs: number; mergeMs: number; heapMiB: number }> = [];
    let cleanerMs = 0;
    let mergeMs = 0;
    for (let hour = 1; hour <= HOURS; hour++) {
      for (let c = 0; c < CYCLES_PER_HOUR; c++) {
        now += HOUR / CYCLES_PER_HOUR;
        const acks = led.map((l) => writer.append(topic, l.partitionId, makeBatch({ records: 4, valueSize: 150, timestamp: now })));
        await writer.flushNow();
        await Promise.all(acks);
      }
      let t = performance.now();
      await merger.runOnce();
      mergeMs += performance.now() - t;
      await retention.runOnce();
      t = performance.now();
      const r = await cleaner.runOnce();
      cleanerMs += performance.now() - t;
      assert.ok(r.claimed <= 200 * 50, 'a pass is bounded');
      if (hour % 24 === 0) {
        const shape = await reg.partitionShape(topic);
        const registry = (await reg.objectStats()).filter((s) => s.state !== 'deleted').reduce((n, s) => n + s.objects, 0);
        for (const s of shape) {
          // Merged rows hold at least half the target; what is not merged yet is the last window: a tail
          // of small rows holding less than 90 % of the target (plus the newest row, never merged).
          const rows = await md.listSegments(topic, s.partitionId, 0, 100_000);
          const merged = rows.filter((r) => r.byteLength >= TARGET / 2);
          const small = rows.filter((r) => r.byteLength < TARGET / 2);
          const storedBytes = rows.reduce((n, r) => n + r.byteLength, 0);
          assert.ok(merged.length <= Math.ceil(storedBytes / (TARGET / 2)), `day ${hour / 24} partition ${s.partitionId}: ${merged.length} merged rows for ${storedBytes} bytes`);
          const smallBytes = small.slice(0, -1).reduce((n, r) => n + r.byteLength, 0);
          assert.ok(smallBytes < 0.9 * TARGET + 4096, `day ${hour / 24} partition ${s.partitionId}: ${small.length} unmerged rows hold ${smallBytes} bytes`);
          assert.ok(s.objects <= s.rows, 'objects per partition ≤ rows');
        }
        assert.ok(registry <= PARTITIONS * 40, `registry rows ${registry}`);
        perDay.push({
          day: hour / 24,
          maxRows: Math.max(...shape.map((s) => s.rows)),
          maxObjects: Math.max(...shape.map((s) => s.objects)),
          registry,
          cleanerMs: Math.round(cleanerMs / 24),
          mergeMs: Math.round(mergeMs / 24),
          heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
        });
        cleanerMs = 0;
        mergeMs = 0;
      }
    }
    await writer.close();
    // Retention kept about three days.
    const p0 = (await md.getPartition(topic, 0))!;
    assert.ok(p0.logStartOffset > 0, 'retention moved the log start');
    // Every object in the store: referenced, recently registered (pending), or gone.
    await cleaner.runOnce();
    const keys = (await objects.list('segments/')).map((o) => o.key);
    const refs = new Set((await (md as SqlMetadataStore).driver.query<{ k: string }>({ name: 'sim_refs', text: 'SELECT DISTINCT s3_key AS k FROM segments', idempotent: true })).map((r) => r.k));
    const pending = new Set((await (md as SqlMetadataStore).driver.query<{ k: string }>({ name: 'sim_pending', text: "SELECT key AS k FROM segment_objects WHERE state = 'pending'", idempotent: true })).map((r) => r.k));
    const stray = keys.filter((k) => !refs.has(k) && !pending.has(k));
    assert.deepEqual(stray, []);
    console.log(JSON.stringify({ simulatedWeek: perDay, merges: merger.stats }));
  });
});
