// Embedded maintenance benchmark (npm run bench -- storage --only=vacuum [--vacuum-rows=N,… (20000,100000)] [--vacuum-seconds=N (60; 0: none)]
// [--vacuum-partitions=N (4)] [--vacuum-interval-ms=N (10000)]): PGlite + local directory, N partitions at
// 1 MB/s each (open loop, the local directory's flush.ms), the merger on (every second, rows older than
// 1 s merged up to 8 MiB), twice in the same run: without and with the maintenance pass
// (metadata/maintenance.ts). Prints dead rows per table, database and data directory size at the end,
// produce ack p50/p99 (and, with the pass, p99 of the acks that overlapped one of its statements), and
// every statement's duration. Then, on the database of the run without the pass (never vacuumed nor
// analyzed), the hot statements timed three times: as left, after VACUUM alone, after ANALYZE — and the
// generic plans of the read statements before and after ANALYZE.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../metadata/index.js';
import { CachedMetadataStore } from '../metadata/cache.js';
import { SqlMetadataStore } from '../metadata/sql-store.js';
import { SqlStorageMetadata } from '../metadata/storage-store.js';
import { EmbeddedMaintenance } from '../metadata/maintenance.js';
import { statement, type Driver, type Statement } from '../metadata/driver.js';
import { createObjectStore, defaultFlushSettings, SegmentWriter } from '../storage/index.js';
import { EMBEDDED_MAX_ROWS_PER_MERGE, Merger } from '../storage/merger.js';
import { pct, timeN } from './_timing.js';

const MB = 1e6;
const f1 = (n: number) => n.toFixed(1);

type OpenLoop = (
  writer: SegmentWriter,
  topic: string,
  P: number,
  rate: number,
  seconds: number,
  templates: Buffer[],
) => Promise<{ acks: Array<{ at: number; ms: number }>; bytes: number; seconds: number }>;

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return n;
}

/** A driver that records when each of the maintenance statements ran. */
function timedDriver(d: Driver, spans: Array<{ name: string; start: number; end: number }>): Driver {
  return {
    kind: d.kind,
    transaction: (name, fn) => d.transaction(name, fn),
    close: () => d.close(),
    async query<R>(stmt: Statement, params?: unknown[]) {
      const start = performance.now();
      try {
        return await d.query<R>(stmt, params);
      } finally {
        if (/^sh_maint_vacuum_/.test(stmt.name)) spans.push({ name: stmt.name.slice(16), start, end: performance.now() });
      }
    },
  };
}

/** VACUUM of segments and segment_objects holding `rows` rows of which 80 % dead (written by statement,
 * not by flushes: only the vacuum is timed), and how long a flush-sized commit queued behind it waited. */
async function vacuumScale(rows: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'streamhouse-bench-vacuum-scale-'));
  try {
    const inner = (await openMetadataStore({ dataDir: join(dir, 'meta') })) as SqlMetadataStore;
    const d = inner.driver;
    await inner.createTopic({ name: 'scale', partitionCount: 4 });
    // Four partitions' chunks per object, as a flush cycle writes them; then every row but one in five
    // deleted (as merges and retention do), the registry trigger updating the objects.
    await d.query(statement('bench_scale_fill', `INSERT INTO segments (id, topic, partition_id, base_offset, end_offset, record_count, size_bytes, s3_bucket, s3_key, byte_position, byte_length, max_timestamp, created_at)
      SELECT 'r' || g, 'scale', g % 4, (g / 4) * 10, (g / 4) * 10 + 9, 10, 1000, 'b', 'obj/' || (g / 4), (g % 4) * 1000, 1000, g, g FROM generate_series(0, $1::int - 1) g`), [rows]);
    await d.query(statement('bench_scale_delete', `DELETE FROM segments WHERE (base_offset / 10) % 5 <> 0`));
    await d.query(statement('bench_scale_hw', `UPDATE partitions SET high_watermark = (SELECT COALESCE(max(end_offset), -1) + 1 FROM segments s WHERE s.topic = partitions.topic AND s.partition_id = partitions.partition_id) WHERE topic = 'scale'`));
    const reg = new SqlStorageMetadata(d);
    const led: Array<{ partitionId: number; epoch: number }> = [];
    for (let p = 0; p < 4; p++) led.push({ partitionId: p, epoch: (await inner.acquirePartitionLease('scale', p, 'bench', 3_600_000))!.epoch });
    const hw = await Promise.all(led.map(async (p) => (await inner.getPartition('scale', p.partitionId))!.highWatermark));
    await timeHot(inner, reg, 'scale', led, hw, 'before VACUUM');
    const probe = new EmbeddedMaintenance({ driver: d });
    const before = new Map((await probe.activity()).map((t) => [t.table, t]));
    const out: string[] = [];
    for (const table of ['segments', 'segment_objects']) {
      const t = before.get(table)!;
      const s = performance.now();
      const vac = d.query(statement(`bench_scale_vacuum_${table}`, `VACUUM public.${table}`));
      // A flush commit arriving just after the VACUUM started waits for it (one session).
      const q = performance.now();
      await d.query(statement('bench_scale_probe', 'SELECT 1'));
      const waited = performance.now() - q;
      await vac;
      out.push(`${table} (${t.deadRows} dead of ${t.deadRows + t.liveRows}) ${f1(performance.now() - s)} ms, a query queued behind it waited ${f1(waited)} ms`);
    }
    const [size] = await d.query<{ bytes: number }>(statement('bench_db_size', 'SELECT pg_database_size(current_database())::bigint AS bytes'));
    console.log(`  ${rows} segment rows, 80 % deleted: VACUUM ${out.join('; ')}; database ${f1(size!.bytes / MB)} MB`);
    await timeHot(inner, reg, 'scale', led, hw, 'after VACUUM');
    await inner.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function vacuumBench(o: { seconds: number; P: number; intervalMs: number; openLoop: OpenLoop; templates: Buffer[]; scaleRows: number[] }): Promise<void> {
  if (o.scaleRows.length > 0) console.log(`\n[embedded maintenance: VACUUM duration by table size] PGlite, one statement per table`);
  for (const rows of o.scaleRows) await vacuumScale(rows);
  if (o.seconds <= 0) return;
  for (const withPass of [false, true]) {
    const dir = await mkdtemp(join(tmpdir(), 'streamhouse-bench-vacuum-'));
    try {
      const store = createObjectStore({ kind: 'local', dir: join(dir, 'objects') });
      const inner = (await openMetadataStore({ dataDir: join(dir, 'meta') })) as SqlMetadataStore;
      const meta = new CachedMetadataStore(inner);
      const reg = new SqlStorageMetadata(inner.driver);
      const topic = 'vacuum-bench';
      const P = o.P;
      await meta.createTopic({ name: topic, partitionCount: P });
      const led: Array<{ topic: string; partitionId: number; epoch: number }> = [];
      for (let p = 0; p < P; p++) led.push({ topic, partitionId: p, epoch: (await meta.acquirePartitionLease(topic, p, 'bench', 3_600_000))!.epoch });
      const flushMs = defaultFlushSettings('local').flushMs;
      const writer = new SegmentWriter({ objectStore: store, metadata: meta, registry: reg, agentId: 'bench', flushMs });
      for (let p = 0; p < P; p++) writer.openPartition(topic, p, { leaseEpoch: led[p]!.epoch, highWatermark: 0 });
      const merger = new Merger({ objectStore: store, metadata: inner, storage: reg, agentId: 'bench', leading: () => led, stillLeading: () => true, targetBytes: 8 * 1024 * 1024, maxAgeMs: 1000, maxRowsPerMerge: EMBEDDED_MAX_ROWS_PER_MERGE });
      merger.start(1000);
      const spans: Array<{ name: string; start: number; end: number }> = [];
      const maintenance = new EmbeddedMaintenance({ driver: timedDriver(inner.driver, spans) });
      if (withPass) maintenance.start(o.intervalMs);
      const load = await o.openLoop(writer, topic, P, P * MB, o.seconds, o.templates);
      await maintenance.stop();
      await merger.stop();
      await writer.close();
      const probe = new EmbeddedMaintenance({ driver: inner.driver });
      const activity = (await probe.activity()).filter((t) => t.liveRows + t.deadRows > 0);
      const [size] = await inner.driver.query<{ bytes: number }>(statement('bench_db_size', 'SELECT pg_database_size(current_database())::bigint AS bytes'));
      const acks = load.acks.map((a) => a.ms).sort((a, b) => a - b);
      const overlapping = load.acks.filter((a) => spans.some((s) => a.at <= s.end && a.at + a.ms >= s.start)).map((a) => a.ms).sort((a, b) => a - b);
      const apart = load.acks.filter((a) => !spans.some((s) => a.at <= s.end && a.at + a.ms >= s.start)).map((a) => a.ms).sort((a, b) => a - b);
      console.log(`\n[embedded maintenance: ${withPass ? `pass every ${o.intervalMs} ms` : 'no pass'}] PGlite + local directory, ${P} partitions × 1 MB/s for ${o.seconds} s, flush.ms ${flushMs}, merger every 1 s (${merger.stats.merges} merges of ${merger.stats.rowsMerged} rows)`);
      console.log(`  dead rows at the end: ${activity.map((t) => `${t.table} ${t.deadRows}/${t.liveRows + t.deadRows}`).join(', ')}; total ${activity.reduce((n, t) => n + t.deadRows, 0)}`);
      console.log(`  pg_database_size ${f1(size!.bytes / MB)} MB; metadata directory ${f1((await dirBytes(join(dir, 'meta'))) / MB)} MB`);
      console.log(`  produce ack p50 / p99 ${f1(pct(acks, 50))} / ${f1(pct(acks, 99))} ms (${acks.length} acks)`);
      if (withPass) {
        const byTable = new Map<string, number[]>();
        for (const s of spans) byTable.set(s.name, [...(byTable.get(s.name) ?? []), s.end - s.start]);
        console.log(`  ack p99 of acks overlapping a maintenance statement ${f1(pct(overlapping, 99))} ms (${overlapping.length} acks) vs the others ${f1(pct(apart, 99))} ms (${apart.length}); p50 ${f1(pct(overlapping, 50))} / ${f1(pct(apart, 50))} ms`);
        console.log(`  statements (${maintenance.stats.passes} passes): ${[...byTable].map(([t, ms]) => `${t} ×${ms.length} max ${f1(Math.max(...ms))} ms`).join(', ')}`);
      } else {
        await hotStatements(inner, reg, topic, led, activity);
      }
      await inner.close();
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}


/** The hot statements timed from the agent's side (through the worker): fetch's lookups, the merger's
 * aggregate, flush commits of one row per partition (registry insert trigger), swaps of 10 of them (delete trigger). */
let seq = 0;
async function timeHot(inner: SqlMetadataStore, reg: SqlStorageMetadata, topic: string, led: Array<{ partitionId: number; epoch: number }>, hw: number[], label: string): Promise<void> {
  const P = led.length;
  const readers = led.map((p) => p.partitionId);
  const find = await timeN(400, (i) => inner.findSegmentForOffset(topic, readers[i % P]!, Math.floor(((i * 7919) % 1000) / 1000 * hw[i % P]!)));
  const list = await timeN(200, (i) => inner.listSegments(topic, readers[i % P]!, Math.floor(((i * 104729) % 1000) / 1000 * hw[i % P]!), 100));
  const cand = await timeN(100, (i) => reg.mergeCandidates(topic, readers[i % P]!, 0, 4 * 1024 * 1024));
  // Flush commits of one small row per partition (the registry's insert trigger runs in each), then
  // swaps of every 10 of them into one (its delete trigger).
  const base = seq++;
  const commit = await timeN(200, async (i) => {
    const key = `bench/${label}-${base}-${i}.seg`;
    const r = await inner.commitFlush(
      'bench',
      led.map((p) => ({ topic, partitionId: p.partitionId, leaseEpoch: p.epoch, expectedHighWatermark: hw[p.partitionId]!, segment: { topic, partitionId: p.partitionId, baseOffset: hw[p.partitionId]!, endOffset: hw[p.partitionId]!, recordCount: 1, sizeBytes: 100, s3Bucket: 'b', s3Key: key, bytePosition: p.partitionId * 100, byteLength: 100, maxTimestamp: Date.now() } })),
    );
    if (!r.committed) throw new Error(`bench commit fenced: ${JSON.stringify(r.fenced)}`);
    for (const p of led) hw[p.partitionId]!++;
  });
  const fresh = await Promise.all(led.map((p) => inner.listSegments(topic, p.partitionId, hw[p.partitionId]! - 200, 1000)));
  const swap = await timeN(20 * P, async (i) => {
    const p = i % P;
    const run = fresh[p]!.slice(Math.floor(i / P) * 10, Math.floor(i / P) * 10 + 10);
    const r = await reg.swapSegments({ topic, partitionId: p, agentId: 'bench', leaseEpoch: led[p]!.epoch, removeIds: run.map((s) => s.id), add: [{ topic, partitionId: p, baseOffset: run[0]!.baseOffset, endOffset: run.at(-1)!.endOffset, recordCount: 10, sizeBytes: 1000, s3Bucket: 'b', s3Key: `bench/${label}-${base}-swap-${i}.seg`, bytePosition: 0, byteLength: 1000, maxTimestamp: Date.now() }] });
    if (r !== 'swapped') throw new Error(`bench swap: ${r}`);
  });
  const fmt = (n: string, t: { p50: number; p99: number }) => `${n} ${f1(t.p50)} / ${f1(t.p99)}`;
  console.log(`  ${label.padEnd(22)} ms p50 / p99: ${[fmt('findSegmentForOffset', find), fmt('listSegments', list), fmt('mergeCandidates', cand), fmt('commitFlush', commit), fmt('swap', swap)].join('; ')}`);
}

/** The hot statements on a database never vacuumed nor analyzed, then after VACUUM, then after ANALYZE. */
async function hotStatements(
  inner: SqlMetadataStore,
  reg: SqlStorageMetadata,
  topic: string,
  led: Array<{ topic: string; partitionId: number; epoch: number }>,
  activity: Array<{ table: string }>,
): Promise<void> {
  const d = inner.driver;
  const P = led.length;
  const hw = await Promise.all(led.map(async (p) => (await inner.getPartition(topic, p.partitionId))!.highWatermark));
  const plans = async (label: string) => {
    // The generic plans (what a prepared statement settles on after five runs) of the read statements.
    const q = [
      ['find', `SELECT id FROM segments WHERE topic = $1 AND partition_id = $2 AND base_offset <= $3 AND end_offset >= $3 ORDER BY base_offset DESC LIMIT 1`],
      ['merge candidates', `SELECT count(*), sum(byte_length) FROM segments WHERE topic = $1 AND partition_id = $2 AND base_offset >= $3 AND byte_length < $4`],
      ['swap old rows', `SELECT id FROM segments WHERE id = ANY($1::text[]) AND topic || '' = $2 AND partition_id + 0 = $3 ORDER BY base_offset FOR UPDATE`],
    ] as const;
    const out: string[] = [];
    await d.transaction('bench_plans', async (tx) => {
      await tx.query(statement('bench_generic', 'SET LOCAL plan_cache_mode = force_generic_plan'));
      for (const [name, text] of q) {
        await tx.query(statement(`bench_prep_${name}`, `PREPARE bench_p AS ${text}`));
        const args = name === 'swap old rows' ? `ARRAY['x'], '${topic}', 0` : name === 'find' ? `'${topic}', 0, 100` : `'${topic}', 0, 0, 4194304`;
        const rows = await tx.query<{ 'QUERY PLAN': string }>(statement(`bench_explain_${name}`, `EXPLAIN (COSTS off) EXECUTE bench_p(${args})`));
        out.push(`${name}: ${rows.map((r) => r['QUERY PLAN'].trim()).join(' | ')}`);
        await tx.query(statement('bench_dealloc', 'DEALLOCATE bench_p'));
      }
    });
    console.log(`  plans ${label}: ${out.join('; ')}`);
  };
  console.log(`  hot statements on this database (never vacuumed nor analyzed; timed from the agent's side, through the worker):`);
  await plans('as left');
  await timeHot(inner, reg, topic, led, hw, 'as left');
  const vac: string[] = [];
  for (const t of activity) {
    const s = performance.now();
    await d.query(statement(`bench_vacuum_${t.table}`, `VACUUM public.${t.table}`));
    vac.push(`${t.table} ${f1(performance.now() - s)} ms`);
  }
  console.log(`  VACUUM (no ANALYZE), one statement per table: ${vac.join(', ')}`);
  await timeHot(inner, reg, topic, led, hw, 'after VACUUM');
  const an: string[] = [];
  for (const t of activity) {
    const s = performance.now();
    await d.query(statement(`bench_analyze_${t.table}`, `ANALYZE public.${t.table}`));
    an.push(`${t.table} ${f1(performance.now() - s)} ms`);
  }
  console.log(`  ANALYZE, one statement per table: ${an.join(', ')}`);
  await plans('after ANALYZE');
  await timeHot(inner, reg, topic, led, hw, 'after VACUUM + ANALYZE');
}
