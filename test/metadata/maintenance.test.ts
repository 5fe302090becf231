// Embedded maintenance (metadata/maintenance.ts) on PGlite: churn made through the real stores (flush
// commits, merge swaps, retention), then a pass: the dead rows are gone, the rows a reader lists are the
// same, and a pass with nothing to do touches nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore, SqlMetadataStore } from '../../metadata/index.js';
import { SqlStorageMetadata } from '../../metadata/storage-store.js';
import { EmbeddedMaintenance, needs } from '../../metadata/maintenance.js';
import type { MetadataStore, SegmentRecord } from '../../metadata/types.js';

const TOPIC = 'churn';

/** The next pass is scheduled once the previous one's promise has settled (a turn or two later). */
async function waitForScheduled(scheduled: unknown[]): Promise<void> {
  for (let i = 0; i < 100 && scheduled.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(scheduled.length, 1);
}
const P = 2;
const FLUSHES = 300;
const MERGE_RUN = 10;

describe('embedded maintenance: when a table needs a pass', () => {
  const t = { table: 't', liveRows: 1000, deadRows: 0, insertedSinceVacuum: 0, xidAge: 1000, bytes: 8192 };
  test("autovacuum's rules: 50 + 20 % of the rows dead, 1000 + 20 % inserted, 200 million transactions old", () => {
    assert.equal(needs({ ...t, deadRows: 250 }), undefined);
    assert.equal(needs({ ...t, deadRows: 251 }), 'dead');
    assert.equal(needs({ ...t, insertedSinceVacuum: 1200 }), undefined);
    assert.equal(needs({ ...t, insertedSinceVacuum: 1201 }), 'inserts');
    assert.equal(needs({ ...t, xidAge: 200_000_001 }), 'wraparound');
    assert.equal(needs({ ...t, liveRows: 0 }), undefined);
  });
  test('the first pass after open: every table holding data (counters start from zero on open)', () => {
    assert.equal(needs(t, true), 'start');
    assert.equal(needs({ ...t, bytes: 0 }, true), undefined);
  });
});

describe('embedded maintenance on PGlite', () => {
  let dataDir: string;
  let store: MetadataStore;
  let reg: SqlStorageMetadata;
  let maintenance: EmbeddedMaintenance;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'streamhouse-maintenance-'));
    store = await openMetadataStore({ dataDir });
    const driver = (store as SqlMetadataStore).driver;
    assert.equal(driver.kind, 'pglite');
    reg = new SqlStorageMetadata(driver);
    maintenance = new EmbeddedMaintenance({ driver });
  });

  after(async () => {
    await maintenance?.stop();
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const listAll = async () => {
    const out: SegmentRecord[][] = [];
    for (let p = 0; p < P; p++) out.push(await store.listSegments(TOPIC, p, 0, 100_000));
    return out;
  };

  test('a pass after flushes, merge swaps and retention removes the dead rows and keeps every live one', async () => {
    await store.createTopic({ name: TOPIC, partitionCount: P });
    const epochs: number[] = [];
    for (let p = 0; p < P; p++) epochs.push((await store.acquirePartitionLease(TOPIC, p, 'a1', 600_000))!.epoch);
    // One flush commit per cycle, one chunk per partition in the cycle's object (as the writer does).
    for (let i = 0; i < FLUSHES; i++) {
      const key = `obj/${String(i).padStart(6, '0')}.seg`;
      const r = await store.commitFlush(
        'a1',
        Array.from({ length: P }, (_, p) => ({
          topic: TOPIC,
          partitionId: p,
          leaseEpoch: epochs[p]!,
          expectedHighWatermark: i * 10,
          segment: { topic: TOPIC, partitionId: p, baseOffset: i * 10, endOffset: i * 10 + 9, recordCount: 10, sizeBytes: 1000, s3Bucket: 'b', s3Key: key, bytePosition: p * 1000, byteLength: 1000, maxTimestamp: 1_000 + i },
        })),
      );
      assert.deepEqual(r, { committed: true });
    }
    // Merges: every run of MERGE_RUN rows becomes one row in its own object.
    for (let p = 0; p < P; p++) {
      const rows = await store.listSegments(TOPIC, p, 0, 100_000);
      for (let i = 0; i + MERGE_RUN <= rows.length; i += MERGE_RUN) {
        const run = rows.slice(i, i + MERGE_RUN);
        const result = await reg.swapSegments({
          topic: TOPIC,
          partitionId: p,
          agentId: 'a1',
          leaseEpoch: epochs[p]!,
          removeIds: run.map((r) => r.id),
          add: [{ topic: TOPIC, partitionId: p, baseOffset: run[0]!.baseOffset, endOffset: run.at(-1)!.endOffset, recordCount: 10 * MERGE_RUN, sizeBytes: 1000 * MERGE_RUN, s3Bucket: 'b', s3Key: `merged/${p}-${i}.seg`, bytePosition: 0, byteLength: 1000 * MERGE_RUN, maxTimestamp: run.at(-1)!.maxTimestamp }],
        });
        assert.equal(result, 'swapped');
      }
    }
    // Retention: the first fifth of partition 0.
    await store.deleteSegmentsBefore(TOPIC, 0, (FLUSHES / 5) * 10);

    const before = await listAll();
    assert.equal(before[1]!.length, FLUSHES / MERGE_RUN);
    const churned = new Map((await maintenance.activity()).map((t) => [t.table, t]));
    // Every flushed row was deleted by a swap: FLUSHES × P dead rows in segments (PGlite keeps the counters).
    assert.ok(churned.get('segments')!.deadRows >= FLUSHES * P, `segments: ${JSON.stringify(churned.get('segments'))}`);
    assert.ok(churned.get('segment_objects')!.deadRows > 0, `segment_objects: ${JSON.stringify(churned.get('segment_objects'))}`);

    const done = await maintenance.runOnce();
    const vacuumed = new Set(done.map((d) => d.table));
    assert.ok(vacuumed.has('segments') && vacuumed.has('segment_objects'), JSON.stringify(done));
    assert.equal(done.find((d) => d.table === 'segments')!.reason, 'dead');

    const after = new Map((await maintenance.activity()).map((t) => [t.table, t]));
    for (const table of vacuumed) assert.equal(after.get(table)!.deadRows, 0, `${table} after the pass: ${JSON.stringify(after.get(table))}`);
    assert.equal(after.get('segments')!.liveRows, before[0]!.length + before[1]!.length);
    assert.deepEqual(await listAll(), before);
    // The reads the agent makes still answer the same.
    const found = await store.findSegmentForOffset(TOPIC, 1, 1234);
    assert.ok(found !== undefined && found.baseOffset <= 1234 && found.endOffset >= 1234);
    const shape = await reg.partitionShape(TOPIC);
    assert.deepEqual(shape.map((s) => s.rows), before.map((rows) => rows.length));

    // Nothing changed since: the next pass has nothing to do.
    assert.deepEqual(await maintenance.runOnce(), []);
    // A pass over every table (the first after start) runs, and changes no row either.
    const all = await maintenance.runOnce({ all: true });
    assert.ok(all.some((d) => d.table === 'segments' && d.reason === 'start'));
    assert.ok(!all.some((d) => d.table === 'acls'), 'an empty table is skipped'); 
    assert.deepEqual(await listAll(), before);
    assert.equal(maintenance.stats.failed, 0);
  });

  test('start(): a pass per interval on the injected timers, the first over every table holding data; stop() ends them', async () => {
    const scheduled: Array<{ fn: () => void; ms: number }> = [];
    const timers = { setTimeout: (fn: () => void, ms: number) => scheduled.push({ fn, ms }), clearTimeout: () => {} };
    const passes: string[][] = [];
    let passed: () => void = () => {};
    const m = new EmbeddedMaintenance({
      driver: (store as SqlMetadataStore).driver,
      timers,
      onPass: (done) => {
        passes.push(done.map((d) => `${d.table}:${d.reason}`));
        passed();
      },
    });
    const fire = async () => {
      const next = scheduled.shift()!;
      const done = new Promise<void>((resolve) => (passed = resolve));
      next.fn();
      await done;
    };
    m.start(5000);
    assert.deepEqual(scheduled.map((t) => t.ms), [5000]);
    await fire();
    assert.ok(passes[0]!.includes('segments:start') && passes[0]!.includes('topics:start'), JSON.stringify(passes[0]));
    await waitForScheduled(scheduled);
    assert.deepEqual(scheduled.map((t) => t.ms), [5000]);
    await fire();
    assert.deepEqual(passes[1], []); // nothing changed since
    await waitForScheduled(scheduled);
    await m.stop();
    // A timer that fires after stop() runs no pass.
    scheduled.shift()!.fn();
    await new Promise((r) => setTimeout(r, 100)); // a pass would have read the counters by now
    assert.equal(m.stats.passes, 2);
    assert.equal(passes.length, 2);
  });
});
