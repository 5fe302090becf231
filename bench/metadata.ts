// Metadata benchmark: npm run bench -- metadata [--backend=postgres|pglite|both] [--database-url=URL]
//                                              [--fsync=on|off] [--scale=N]
//
// For each back end: p50/p99 of every operation of the reference latency table (create_topic,
// get_topic, add_segment, find_segment_for_offset, update_high_watermark, commit_offset,
// acquire_partition_lease) plus the flush commit (1 and 100 partitions), batched offset commits, the
// cached reads, and a 10,000-partition topic (create, list); then throughputs with several concurrent
// connections. PostgreSQL is a throwaway local server (fsync on by default, as in production) unless
// --database-url points at one. Targets are printed next to the PostgreSQL figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../metadata/index.js';
import { CachedMetadataStore } from '../metadata/cache.js';
import type { FlushCommitPartition, MetadataStore, NewSegment, OffsetCommitInput } from '../metadata/types.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { timeN } from './_timing.js';

function arg(args: string[], name: string, dflt: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : a.slice(name.length + 3);
}

interface Row {
  op: string;
  n: number;
  p50: number;
  p99: number;
  target?: string;
}

async function timed(op: string, n: number, fn: (i: number) => Promise<unknown>, target?: string, warmup = Math.min(50, n)): Promise<Row> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  return { op, n, ...(await timeN(n, fn)), target };
}

/** Runs `workers` closed loops for `seconds`; returns completed units per second. */
async function throughput(workers: number, seconds: number, fn: (worker: number, i: number) => Promise<number>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let units = 0;
  const start = performance.now();
  await Promise.all(
    [...Array(workers).keys()].map(async (w) => {
      for (let i = 0; performance.now() < end; i++) {
        const done = await fn(w, i); // not `units += await …`: that reads `units` before the await
        units += done;
      }
    }),
  );
  return units / ((performance.now() - start) / 1000);
}

function seg(topic: string, partitionId: number, base: number, count: number): NewSegment {
  return {
    topic,
    partitionId,
    baseOffset: base,
    endOffset: base + count - 1,
    recordCount: count,
    sizeBytes: count * 200,
    s3Bucket: 'bench',
    s3Key: `segments/${base}.seg`,
    bytePosition: 0,
    byteLength: count * 180,
    maxTimestamp: Date.now(),
  };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

function printTable(title: string, rows: Row[], withTargets: boolean): void {
  console.log(`\n${title}`);
  const head = ['operation', 'n', 'p50 ms', 'p99 ms', ...(withTargets ? ['target'] : [])];
  const body = rows.map((r) => [r.op, String(r.n), fmt(r.p50), fmt(r.p99), ...(withTargets ? [r.target ?? ''] : [])]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

async function benchStore(label: string, open: () => Promise<MetadataStore>, scale: number, withTargets: boolean): Promise<void> {
  const store = await open();
  const second = store.kind === 'postgres' ? await open() : store;
  const cache = new CachedMetadataStore(store);
  const run = Math.random().toString(36).slice(2, 7);
  const rows: Row[] = [];
  const t = (x: string) => (withTargets ? x : undefined);
  const n = (x: number) => Math.max(20, Math.round(x * scale));
  try {
    // --- topics ----------------------------------------------------------------------------------
    rows.push(await timed('create_topic (16 partitions)', n(200), (i) => store.createTopic({ name: `bench-${run}-ct-${i}`, partitionCount: 16 }), t('< 5 ms')));
    const topic = `bench-${run}-main`;
    await store.createTopic({ name: topic, partitionCount: 128 });
    rows.push(await timed('get_topic (database)', n(2000), () => store.getTopic(topic), t('(ref. < 5 ms)')));
    await cache.getTopic(topic);
    rows.push(await timed('get_topic (cached)', n(20000), () => cache.getTopic(topic), t('< 0.5 ms')));
    rows.push(await timed('get_partitions, 128 (database)', n(1000), () => store.getPartitions(topic)));

    // --- leases ----------------------------------------------------------------------------------
    const agent = `agent-${run}`;
    rows.push(await timed('acquire_partition_lease (new)', 128, (i) => store.acquirePartitionLease(topic, i < 0 ? 0 : i, agent, 300_000), t('< 5 ms'), 0));
    rows.push(await timed('acquire_partition_lease (held, extend)', n(1000), (i) => store.acquirePartitionLease(topic, Math.abs(i) % 128, agent, 300_000), t('< 5 ms')));
    rows.push(await timed('renew_partition_lease', n(1000), (i) => store.renewPartitionLease(topic, Math.abs(i) % 128, agent, 1, 300_000)));

    // --- segments and the flush commit -------------------------------------------------------------
    const hw = new Array<number>(128).fill(0);
    const entry = (p: number, count: number): FlushCommitPartition => ({ topic, partitionId: p, leaseEpoch: 1, expectedHighWatermark: hw[p]!, segment: seg(topic, p, hw[p]!, count) });
    const commit = async (parts: number[]) => {
      const res = await store.commitFlush(agent, parts.map((p) => entry(p, 10)));
      if (!res.committed) throw new Error(`bench flush fenced: ${JSON.stringify(res.fenced.slice(0, 3))}`);
      for (const p of parts) hw[p]! += 10;
    };
    rows.push(await timed('commit_flush (1 partition)', n(2000), () => commit([0]), t('< 2 ms')));
    const hundred = [...Array(100).keys()].map((i) => i + 1);
    rows.push(await timed('commit_flush (100 partitions)', n(300), () => commit(hundred), t('< 10 ms')));
    const segTopic = `bench-${run}-seg`;
    await store.createTopic({ name: segTopic, partitionCount: 1 });
    let segBase = 0;
    rows.push(await timed('add_segment', n(2000), async () => {
      await store.addSegment(seg(segTopic, 0, segBase, 10));
      segBase += 10;
    }, t('(ref. < 10 ms)')));
    rows.push(await timed('update_high_watermark', n(2000), (i) => store.updateHighWatermark(segTopic, 0, Math.abs(i) + 1), t('(ref. < 10 ms)')));
    rows.push(await timed('find_segment_for_offset (database)', n(2000), (i) => store.findSegmentForOffset(topic, 0, (Math.abs(i) * 7919) % hw[0]!), t('(ref. < 10 ms)')));
    // Cached: a partition this agent leads, its newest segments indexed in memory.
    const ledTopic = `bench-${run}-led`;
    await cache.createTopic({ name: ledTopic, partitionCount: 1 });
    const lease = (await cache.acquirePartitionLease(ledTopic, 0, agent, 300_000))!;
    let ledHw = 0;
    for (let i = 0; i < 200; i++) {
      await cache.commitFlush(agent, [{ topic: ledTopic, partitionId: 0, leaseEpoch: lease.epoch, expectedHighWatermark: ledHw, segment: seg(ledTopic, 0, ledHw, 10) }]);
      ledHw += 10;
    }
    await cache.findSegmentForOffset(ledTopic, 0, ledHw - 1);
    rows.push(await timed('find_segment_for_offset (cached, led)', n(20000), (i) => cache.findSegmentForOffset(ledTopic, 0, ledHw - 1 - ((Math.abs(i) * 7919) % 2000)), t('< 0.2 ms')));

    // --- consumer offsets ------------------------------------------------------------------------
    const offsets = (k: number, v: number): OffsetCommitInput[] =>
      [...Array(k).keys()].map((p) => ({ topic, partitionId: p, offset: v, leaderEpoch: 1, metadata: null }));
    rows.push(await timed('commit_offset (1)', n(2000), (i) => store.commitOffset(`g-${run}`, { topic, partitionId: 0, offset: Math.abs(i), leaderEpoch: 1, metadata: null }), t('(ref. < 10 ms)')));
    rows.push(await timed('commit_offsets (100 in one request)', n(1000), (i) => store.commitOffsets(`g-${run}`, offsets(100, Math.abs(i))), t('< 5 ms')));
    rows.push(await timed('fetch_offsets (100)', n(1000), () => store.fetchOffsets(`g-${run}`)));

    // --- a 10,000-partition topic ------------------------------------------------------------------
    const wide = `bench-${run}-wide`;
    rows.push(await timed('create_topic (10,000 partitions)', 1, () => store.createTopic({ name: wide, partitionCount: 10_000 }), t('< 3000 ms'), 0));
    rows.push(await timed('list partitions (10,000)', 5, () => store.getPartitions(wide), t('< 500 ms'), 1));

    printTable(label, rows, withTargets);

    // --- throughputs -------------------------------------------------------------------------------
    const workers = store.kind === 'postgres' ? 8 : 1;
    const offsetsPerSec = await throughput(workers, 3 * scale, async (w, i) => {
      await (w % 2 ? second : store).commitOffsets(`tp-${run}-${w}`, offsets(100, i));
      return 100;
    });
    const flushTopic = `bench-${run}-tp`;
    await store.createTopic({ name: flushTopic, partitionCount: workers });
    const tpLeases = await store.acquirePartitionLeases(agent, [...Array(workers).keys()].map((p) => ({ topic: flushTopic, partitionId: p })), 300_000);
    const tpHw = new Array<number>(workers).fill(0);
    const flushesPerSec = await throughput(workers, 2 * scale, async (w) => {
      const res = await (w % 2 ? second : store).commitFlush(agent, [
        { topic: flushTopic, partitionId: w, leaseEpoch: tpLeases[w]!.epoch, expectedHighWatermark: tpHw[w]!, segment: seg(flushTopic, w, tpHw[w]!, 10) },
      ]);
      if (!res.committed) throw new Error('fenced');
      tpHw[w]! += 10;
      return 1;
    });
    const readsPerSec = await throughput(workers, 1 * scale, async (w) => {
      await (w % 2 ? second : store).getPartition(topic, w);
      return 1;
    });
    console.log(`\nthroughput (${workers} concurrent ${workers > 1 ? 'callers over two pools' : 'caller'})`);
    console.log(`  committed partition offsets/s (100 per request): ${Math.round(offsetsPerSec).toLocaleString('en')}${withTargets ? '   target >= 50,000' : ''}`);
    console.log(`  flush commits/s (1 partition each):              ${Math.round(flushesPerSec).toLocaleString('en')}`);
    console.log(`  get_partition/s (database):                      ${Math.round(readsPerSec).toLocaleString('en')}`);
  } finally {
    if (second !== store) await second.close();
    await store.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const backend = arg(args, 'backend', 'both');
  const scale = Number(arg(args, 'scale', '1'));
  const fsync = arg(args, 'fsync', 'on') === 'on';
  const externalUrl = arg(args, 'database-url', process.env.BENCH_DATABASE_URL ?? '');
  console.log(`metadata benchmark — ${cpus().length} cores, Node ${process.version}`);

  if (backend === 'postgres' || backend === 'both') {
    let server: PostgresServer | undefined;
    try {
      let url = externalUrl;
      let where = 'external server';
      if (!url) {
        server = await startPostgres({ durable: fsync });
        url = await server.createDatabase('bench');
        where = `local throwaway server, fsync=${fsync ? 'on' : 'off'}`;
      }
      await benchStore(`PostgreSQL (${where}; pool max 20)`, () => openMetadataStore({ databaseUrl: url, dataDir: '' }), scale, true);
    } finally {
      await server?.stop();
    }
  }
  if (backend === 'pglite' || backend === 'both') {
    const dir = await mkdtemp(join(tmpdir(), 'streamhouse-bench-pglite-'));
    try {
      await benchStore(`PGlite (embedded, ${dir})`, () => openMetadataStore({ dataDir: dir }), Math.min(scale, 0.5), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
