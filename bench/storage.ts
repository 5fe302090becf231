// Storage benchmark: npm run bench -- storage [--metadata=pglite|fake] [--seconds=N] [--only=local|s3]
//                    [--flush-ms-local=N] [--flush-ms-s3=N] [--inflight=N]   (defaults: the writer's)
//
// For the local directory (fsync on) and the S3 test server (fauxqs in a child process, reached
// through @aws-sdk/client-s3):
//   write MB/s          closed loop, 16 partitions, 64 KiB batches of JSON-ish records
//   read MB/s           cold (fresh reader, no tail cache) and warm (block cache), 1 MiB fetches
//   PUTs/s              while 100 partitions receive a steady 10 MB/s: must track the flush rate
//   ack latency         p50/p99 of append → ack at that steady 10 MB/s (open loop)
// plus LZ4 compress/decompress MB/s and ratio on the same records.
// Merging (--only=merge, or after the local directory; --merge-backend=embedded|postgres|both (both),
// --merge-seconds=N (90), --merge-vacuum-interval-ms=N (the agent's embedded-vacuum-interval-ms; 0: none), --merge-target-bytes=N (8 MiB: a 64 MiB object takes minutes per partition to fill
// at 1 MB/s), --merge-partitions=N (4), --merge-window-seconds=N (4)): on PGlite + local directory and on
// PostgreSQL + the S3 test server, N partitions at 1 MB/s each (open loop); the first third without the
// merger, then the merger on and off in turns (same run): produce ack p99 with no merge running / while a
// merge runs, merge MB/s, swap statement and row listing times, cold fetch MB/s from the unmerged vs the
// merged segments of the same data, and segment rows / objects per partition-hour before and after merging.
// Embedded maintenance (--only=vacuum [--vacuum-rows=20000,100000] [--vacuum-seconds=60]; bench/_vacuum.ts): dead rows, database size and produce acks after
// a sustained load with and without the vacuum pass, and the hot statements before/after VACUUM/ANALYZE.
// Compaction (--only=compact, also in the default run with --metadata=pglite; bench/_compaction.ts):
// object-store bytes a cleaning pass reads with the whole log dirty vs a small dirty part (same run).
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressFrameSync, decompressFrameSync, compressFrame } from 'lz4-napi';
import { buildRecordBatchSync } from '../protocol/record-batch.js';
import { openMetadataStore } from '../metadata/index.js';
import { CachedMetadataStore } from '../metadata/cache.js';
import type { MetadataStore } from '../metadata/types.js';
import { createObjectStore, defaultFlushSettings, SegmentReader, SegmentWriter, type ObjectStore } from '../storage/index.js';
import { DEFAULT_MAX_ROWS_PER_MERGE, EMBEDDED_MAX_ROWS_PER_MERGE, Merger } from '../storage/merger.js';
import { compactionBench } from './_compaction.js';
import { vacuumBench } from './_vacuum.js';
import { SqlStorageMetadata } from '../metadata/storage-store.js';
import { SqlMetadataStore } from '../metadata/sql-store.js';
import { EmbeddedMaintenance } from '../metadata/maintenance.js';
import { SETTINGS } from '../src/config.js';
import { FakeMetadata } from '../test/storage/fake-metadata.js';
import { jsonValue } from '../test/storage/batches.js';
import { freePort } from '../test/helpers/ports.js';
import type { ByteRange, ObjectInfo } from '../storage/types.js';

const MB = 1e6;

function arg(args: string[], name: string, dflt: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : a.slice(name.length + 3);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const f1 = (x: number) => x.toFixed(1);

/** A batch of `n` JSON-ish records (~200 B values), as a producer with linger would send. */
function batchOf(n: number, seed: number): Buffer {
  const ts = Date.now();
  return buildRecordBatchSync({
    records: Array.from({ length: n }, (_, i) => ({
      key: `user-${(seed * 131 + i) % 5000}`,
      value: jsonValue(seed * 1000 + i, 200),
      timestamp: ts + i,
      headers: [{ key: 'trace', value: `t-${seed}-${i}` }],
    })),
  });
}

/** Times every put (PUT latency percentiles) and counts them. */
class TimedStore implements ObjectStore {
  readonly kind: 'local' | 's3';
  readonly bucket: string;
  putMs: number[] = [];
  constructor(readonly inner: ObjectStore) {
    this.kind = inner.kind;
    this.bucket = inner.bucket;
  }
  async put(key: string, body: Buffer | Buffer[]): Promise<void> {
    const t = performance.now();
    await this.inner.put(key, body);
    this.putMs.push(performance.now() - t);
  }
  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.inner.get(key, range);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Meta {
  store: Pick<MetadataStore, 'commitFlush' | 'findSegmentForOffset' | 'listSegments'>;
  /** Duration of every commitFlush, ms. */
  commitMs: number[];
  addTopic(name: string, partitions: number, agent: string): Promise<number>;
  close(): Promise<void>;
}

/** Times commitFlush calls of a metadata store. */
function timedCommits<T extends Pick<MetadataStore, 'commitFlush'>>(m: T, out: number[]): T {
  return new Proxy(m, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop !== 'commitFlush') return typeof v === 'function' ? v.bind(target) : v;
      return async (...a: Parameters<MetadataStore['commitFlush']>) => {
        const t = performance.now();
        try {
          return await target.commitFlush(...a);
        } finally {
          out.push(performance.now() - t);
        }
      };
    },
  });
}

async function openMeta(kind: string, dir: string): Promise<Meta> {
  const commitMs: number[] = [];
  if (kind === 'fake') {
    const m = new FakeMetadata();
    return {
      commitMs,
      store: timedCommits(m, commitMs),
      addTopic: async (name, n, agent) => (m.addTopic(name, n, { agentId: agent, epoch: 1 }), 1),
      close: async () => {},
    };
  }
  const inner = await openMetadataStore({ dataDir: join(dir, 'meta') });
  const m = new CachedMetadataStore(inner);
  return {
    commitMs,
    store: timedCommits(m, commitMs),
    addTopic: async (name, n, agent) => {
      await m.createTopic({ name, partitionCount: n });
      let epoch = 0;
      for (let p = 0; p < n; p++) epoch = (await m.acquirePartitionLease(name, p, agent, 3_600_000))!.epoch;
      return epoch;
    },
    close: () => inner.close(),
  };
}

/** fauxqs in its own process, so the benchmark's event loop is not shared with the server. */
async function startS3Child(): Promise<{ endpoint: string; bucket: string; stop(): Promise<void> }> {
  const port = await freePort();
  const bucket = 'bench';
  const code = `import('fauxqs').then(async ({ startFauxqs }) => { const s = await startFauxqs({ port: ${port}, logger: false, host: '127.0.0.1' }); s.createBucket('${bucket}'); process.stdout.write('ready\\n'); })`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (c) => reject(new Error(`fauxqs exited ${c}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    stop: async () => {
      child.kill();
    },
  };
}

interface BackendResult {
  name: string;
  flushMs: number;
  writeMBs: number;
  readColdMBs: number;
  readWarmMBs: number;
  putsPerSec: number;
  cyclesPerSec: number;
  flushRate: number;
  ackP50: number;
  ackP99: number;
  ackMax: number;
  putP50: number;
  putP99: number;
  achievedMBs: number;
  phases: string;
}

async function writePhase(store: ObjectStore, meta: Meta, flushMs: number, seconds: number) {
  const P = 16;
  const topic = `w-${store.kind}`;
  const epoch = await meta.addTopic(topic, P, 'bench');
  const writer = new SegmentWriter({ objectStore: store, metadata: meta.store, agentId: 'bench', flushMs });
  for (let p = 0; p < P; p++) writer.openPartition(topic, p, { leaseEpoch: epoch, highWatermark: 0 });
  const templates = Array.from({ length: 32 }, (_, i) => batchOf(300, i)); // ~64 KiB each
  let bytes = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const producer = async (p: number) => {
    let i = p;
    const inflight = new Set<Promise<unknown>>();
    while (performance.now() < deadline) {
      const b = Buffer.from(templates[i++ % templates.length]); // a fresh "request frame"
      const pr = writer.append(topic, p % P, b).then(() => (bytes += b.length));
      inflight.add(pr);
      void pr.finally(() => inflight.delete(pr));
      if (inflight.size >= 8) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  };
  await Promise.all(Array.from({ length: P * 2 }, (_, k) => producer(k)));
  const secs = (performance.now() - t0) / 1000;
  const hws = Array.from({ length: P }, (_, p) => writer.highWatermark(topic, p) ?? 0);
  await writer.close();
  return { topic, P, writeMBs: bytes / MB / secs, hws };
}

async function readPhase(store: ObjectStore, meta: Meta, topic: string, P: number, hws: number[]) {
  const reader = new SegmentReader({ objectStore: store, metadata: meta.store, tailCacheBytes: 0, blockCacheBytes: 512 * 1024 * 1024 });
  const pass = async () => {
    let bytes = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: P }, async (_, p) => {
        let off = 0;
        while (off < hws[p]) {
          const bs = await reader.read(topic, p, off, 1 << 20, hws[p]);
          for (const b of bs) bytes += b.length;
          const last = bs[bs.length - 1];
          off = last.readInt32BE(0) * 2 ** 32 + last.readUInt32BE(4) + last.readInt32BE(23) + 1;
        }
      }),
    );
    return bytes / MB / ((performance.now() - t0) / 1000);
  };
  const cold = await pass();
  const warm = await pass();
  return { cold, warm };
}

async function steadyPhase(store: TimedStore, meta: Meta, flushMs: number, seconds: number, inflight: number) {
  const P = 100;
  const topic = `s-${store.kind}`;
  const epoch = await meta.addTopic(topic, P, 'bench');
  const writer = new SegmentWriter({ objectStore: store, metadata: meta.store, agentId: 'bench', flushMs, maxInflightCycles: inflight });
  for (let p = 0; p < P; p++) writer.openPartition(topic, p, { leaseEpoch: epoch, highWatermark: 0 });
  const templates = Array.from({ length: 50 }, (_, i) => batchOf(20, i)); // ~4.6 KiB each
  const rate = 10 * MB; // bytes per second
  const lat: number[] = [];
  const pending: Array<Promise<unknown>> = [];
  store.putMs = [];
  meta.commitMs.length = 0;
  const puts0 = store.putMs.length;
  const cycles0 = writer.stats.cycles;
  let sent = 0;
  let i = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  // Open loop: each batch has a scheduled send time; latency counts from it (no coordinated omission).
  while (performance.now() < end) {
    const now = performance.now();
    while (sent < ((now - t0) / 1000) * rate) {
      const b = Buffer.from(templates[i % templates.length]);
      const scheduled = t0 + (sent / rate) * 1000;
      sent += b.length;
      pending.push(writer.append(topic, i++ % P, b).then(() => lat.push(performance.now() - scheduled)));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const elapsed = (performance.now() - t0) / 1000;
  loop.disable();
  await Promise.all(pending);
  const cycles = writer.stats.cycles - cycles0;
  const st = writer.stats;
  const phases = `encode ${f1(st.encodeMs / st.cycles)} / PUT ${f1(st.putMs / st.cycles)} / commit ${f1(st.commitMs / st.cycles)} ms avg, slowest cycle ${f1(st.maxCycleMs)} ms`;
  const puts = store.putMs.length - puts0;
  await writer.close();
  lat.sort((a, b) => a - b);
  const putSorted = [...store.putMs].sort((a, b) => a - b);
  return {
    putsPerSec: puts / elapsed,
    cyclesPerSec: cycles / elapsed,
    ackP50: pct(lat, 50),
    ackP99: pct(lat, 99),
    ackMax: lat[lat.length - 1],
    putP50: pct(putSorted, 50),
    putP99: pct(putSorted, 99),
    achievedMBs: sent / MB / elapsed,
    phases: `${phases}; commit p99 ${f1(pct([...meta.commitMs].sort((a, b) => a - b), 99))} ms; event-loop delay p99 ${f1(loop.percentile(99) / 1e6)} ms, max ${f1(loop.max / 1e6)} ms`,
  };
}

async function benchBackend(name: 'local' | 's3', metaKind: string, seconds: number, flushOverride: number, inflight: number): Promise<BackendResult> {
  const dir = await mkdtemp(join(tmpdir(), `streamhouse-bench-${name}-`));
  let s3: Awaited<ReturnType<typeof startS3Child>> | undefined;
  try {
    let raw: ObjectStore;
    if (name === 'local') raw = createObjectStore({ kind: 'local', dir: join(dir, 'objects') });
    else {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      s3 = await startS3Child();
      raw = createObjectStore({
        kind: 's3',
        bucket: s3.bucket,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
      });
    }
    const store = new TimedStore(raw);
    const meta = await openMeta(metaKind, dir);
    const flushMs = flushOverride >= 0 ? flushOverride : defaultFlushSettings(name).flushMs;
    // The steady (latency) phase runs first: after the bulk write the disk is busy writing back
    // gigabytes, which would measure the write-back, not the writer.
    const s = await steadyPhase(store, meta, flushMs, seconds, inflight);
    const w = await writePhase(store, meta, flushMs, seconds);
    const r = await readPhase(store, meta, w.topic, w.P, w.hws);
    await meta.close();
    await store.close();
    return { name, flushMs, writeMBs: w.writeMBs, readColdMBs: r.cold, readWarmMBs: r.warm, flushRate: 1000 / flushMs, ...s };
  } finally {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function lz4Bench(): Promise<{ compMBs: number; decompMBs: number; ratio: number; asyncMBs: number }> {
  // 256 KiB blocks of whole batches, as the writer builds them.
  const block = Buffer.concat(Array.from({ length: 56 }, (_, i) => batchOf(20, i)));
  const c = compressFrameSync(block);
  const iters = Math.max(20, Math.floor((400 * MB) / block.length));
  let t = performance.now();
  for (let i = 0; i < iters; i++) compressFrameSync(block);
  const compMBs = (iters * block.length) / MB / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < iters; i++) decompressFrameSync(c);
  const decompMBs = (iters * block.length) / MB / ((performance.now() - t) / 1000);
  t = performance.now();
  await Promise.all(Array.from({ length: iters }, () => compressFrame(block)));
  const asyncMBs = (iters * block.length) / MB / ((performance.now() - t) / 1000);
  return { compMBs, decompMBs, ratio: block.length / c.length, asyncMBs };
}

/** Open-loop load of `rate` bytes/s over P partitions for `seconds`; ack latencies with their scheduled times. */
async function openLoop(writer: SegmentWriter, topic: string, P: number, rate: number, seconds: number, templates: Buffer[]) {
  const acks: Array<{ at: number; ms: number }> = [];
  const pending: Array<Promise<unknown>> = [];
  let sent = 0;
  let i = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const now = performance.now();
    while (sent < ((now - t0) / 1000) * rate) {
      const b = Buffer.from(templates[i % templates.length]);
      const scheduled = t0 + (sent / rate) * 1000;
      sent += b.length;
      pending.push(writer.append(topic, i++ % P, b).then(() => acks.push({ at: scheduled, ms: performance.now() - scheduled })));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  return { acks, bytes: sent, seconds: (performance.now() - t0) / 1000 };
}

async function coldRead(store: ObjectStore, meta: MetadataStore, topic: string, P: number, hws: number[]) {
  const reader = new SegmentReader({ objectStore: store, metadata: meta, tailCacheBytes: 0, blockCacheBytes: 0 });
  let bytes = 0;
  const t0 = performance.now();
  for (let p = 0; p < P; p++) {
    let off = 0;
    while (off < hws[p]) {
      const bs = await reader.read(topic, p, off, 1 << 20, hws[p]);
      for (const b of bs) bytes += b.length;
      const last = bs[bs.length - 1];
      off = last.readInt32BE(0) * 2 ** 32 + last.readUInt32BE(4) + last.readInt32BE(23) + 1;
    }
  }
  return bytes / MB / ((performance.now() - t0) / 1000);
}

/** Times every call of `name` on `obj` into `into` (ms). */
function timeCalls<T extends object>(obj: T, name: keyof T & string, into: number[]): void {
  const f = (obj[name] as (...a: unknown[]) => Promise<unknown>).bind(obj);
  (obj as Record<string, unknown>)[name] = async (...a: unknown[]) => {
    const t = performance.now();
    try {
      return await f(...a);
    } finally {
      into.push(performance.now() - t);
    }
  };
}

/**
 * Merging under load: P partitions at 1 MB/s each (open loop). The first third builds a backlog
 * without the merger; then the merger is switched on and off every `windowS` seconds, so that acks
 * while a merge runs and acks with no merge running are drawn from the same minutes (a machine's
 * background noise falls on both sides alike).
 */
async function mergeBench(seconds: number, targetBytes: number, P: number, backend: 'embedded' | 'postgres', windowS: number, vacuumMs: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'streamhouse-bench-merge-'));
  let s3: Awaited<ReturnType<typeof startS3Child>> | undefined;
  let pgServer: { stop(): Promise<void> } | undefined;
  try {
    let store: ObjectStore;
    let inner: MetadataStore;
    if (backend === 'embedded') {
      store = createObjectStore({ kind: 'local', dir: join(dir, 'objects') });
      inner = await openMetadataStore({ dataDir: join(dir, 'meta') });
    } else {
      const { startPostgres } = await import('../test/helpers/postgres.js');
      const server = await startPostgres();
      pgServer = server;
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      s3 = await startS3Child();
      store = createObjectStore({ kind: 's3', bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
      inner = await openMetadataStore({ databaseUrl: await server.createDatabase(), dataDir: '' });
    }
    const meta = new CachedMetadataStore(inner);
    const reg = new SqlStorageMetadata((inner as SqlMetadataStore).driver);
    const swapMs: number[] = [];
    const listMs: number[] = [];
    timeCalls(reg, 'swapSegments', swapMs);
    timeCalls(inner, 'listSegments', listMs);
    const topic = 'merge-bench';
    await meta.createTopic({ name: topic, partitionCount: P });
    const led: Array<{ topic: string; partitionId: number; epoch: number }> = [];
    for (let p = 0; p < P; p++) led.push({ topic, partitionId: p, epoch: (await meta.acquirePartitionLease(topic, p, 'bench', 3_600_000))!.epoch });
    // The embedded agent vacuums PGlite every embedded-vacuum-interval-ms (the swaps' dead rows slow the next swaps).
    const maintenance = backend === 'embedded' && vacuumMs > 0 ? new EmbeddedMaintenance({ driver: (inner as SqlMetadataStore).driver }) : undefined;
    maintenance?.start(vacuumMs);
    const flushMs = defaultFlushSettings(backend === 'embedded' ? 'local' : 's3').flushMs;
    const writer = new SegmentWriter({ objectStore: store, metadata: meta, registry: reg, agentId: 'bench', flushMs });
    for (let p = 0; p < P; p++) writer.openPartition(topic, p, { leaseEpoch: led[p]!.epoch, highWatermark: 0 });
    const templates = Array.from({ length: 50 }, (_, i) => batchOf(20, i));
    const rate = P * MB;
    // Phase A: no merger (the backlog, and the cold read of unmerged segments).
    const a = await openLoop(writer, topic, P, rate, seconds / 3, templates);
    const shapeA = await reg.partitionShape(topic);
    const hwsA = Array.from({ length: P }, (_, p) => writer.highWatermark(topic, p) ?? 0);
    const unmergedMBs = await coldRead(store, inner, topic, P, hwsA);
    // Phase B: the same load, the merger on and off in turns.
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (o: object, m?: string) => void warnings.push(`${m ?? ''} ${JSON.stringify(o)}`), error: (o: object, m?: string) => void warnings.push(`${m ?? ''} ${JSON.stringify(o)}`) };
    const merger = new Merger({ objectStore: store, metadata: inner, storage: reg, agentId: 'bench', leading: () => led, stillLeading: () => true, targetBytes, maxAgeMs: 3_600_000, logger, maxRowsPerMerge: backend === 'embedded' ? EMBEDDED_MAX_ROWS_PER_MERGE : DEFAULT_MAX_ROWS_PER_MERGE });
    const busy: Array<[number, number]> = [];
    const off: Array<[number, number]> = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const w0 = performance.now();
        while (!stop && performance.now() - w0 < windowS * 1000) {
          const t = performance.now();
          const before = merger.stats.merges;
          await merger.runOnce();
          if (merger.stats.merges > before) busy.push([t, performance.now()]);
          else await new Promise((r) => setTimeout(r, 200));
        }
        const o0 = performance.now();
        while (!stop && performance.now() - o0 < windowS * 1000) await new Promise((r) => setTimeout(r, 50));
        off.push([o0, performance.now()]);
      }
    })();
    let peakRss = 0;
    let peakBuffers = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakBuffers = Math.max(peakBuffers, m.heapUsed + m.arrayBuffers);
    }, 250);
    const b = await openLoop(writer, topic, P, rate, (2 * seconds) / 3, templates);
    stop = true;
    await loop;
    clearInterval(sampler);
    const hws = Array.from({ length: P }, (_, p) => writer.highWatermark(topic, p) ?? 0);
    await writer.close();
    await maintenance?.stop();
    const shapeB = await reg.partitionShape(topic);
    const mergedMBs = await coldRead(store, inner, topic, P, hws);
    const within = (xs: Array<[number, number]>, t: number) => xs.some(([s, e]) => t >= s && t <= e);
    const sorted = (xs: number[]) => xs.sort((x, y) => x - y);
    // An ack belongs to the side its whole life fell in (scheduled at `at`, acked `ms` later).
    // No merge running: the off windows (interleaved with the merging ones, so the machine's noise falls
    // on both sides alike); the first third is shown apart.
    const phaseA = sorted(a.acks.map((x) => x.ms));
    const without = sorted(b.acks.filter((x) => within(off, x.at) && within(off, x.at + x.ms) && !within(busy, x.at) && !within(busy, x.at + x.ms)).map((x) => x.ms));
    const during = sorted(b.acks.filter((x) => within(busy, x.at) || within(busy, x.at + x.ms)).map((x) => x.ms));
    const st = merger.stats;
    const mergeSecs = busy.reduce((n, [s, e]) => n + (e - s), 0) / 1000;
    const rowsA = shapeA.reduce((n, s) => n + s.rows, 0) / P;
    // Rows of at least half the target are never merged again: at steady load a partition-hour leaves
    // 3,600 MB of batches in such rows; the rest is the window still being merged (bounded).
    const rows = await Promise.all(led.map((p) => inner.listSegments(topic, p.partitionId, 0, 100_000)));
    const final = rows.flat().filter((r) => r.byteLength >= targetBytes / 2);
    const finalBatchBytes = final.reduce((n, r) => n + r.sizeBytes, 0) / Math.max(1, final.length);
    const windowRows = rows.map((rs) => rs.length - rs.filter((r) => r.byteLength >= targetBytes / 2).length);
    const sw = sorted(swapMs);
    const ls = sorted(listMs);
    const label = backend === 'embedded' ? 'PGlite + local directory' : 'PostgreSQL + S3 test server';
    const vacuumed = maintenance === undefined ? '' : `; PGlite vacuumed every ${vacuumMs} ms (${maintenance.stats.vacuums} VACUUM statements, longest ${f1(maintenance.stats.longestMs)} ms)`;
    console.log(`\n[merging: ${label}] ${P} partitions × 1 MB/s, merge-target-bytes ${targetBytes}, flush.ms ${flushMs}; ${f1(seconds / 3)} s without the merger, then ${f1((2 * seconds) / 3)} s with it on and off every ${windowS} s${vacuumed}`);
    console.log(`  merge: ${st.merges} merges of ${st.rowsMerged} rows, ${f1(st.bytesWritten / MB)} MB written, ${f1(st.bytesRead / MB)} MB read in ${f1(mergeSecs)} s busy → ${f1(st.bytesWritten / MB / Math.max(0.001, mergeSecs))} MB/s written; swap statement p50 / p99 ${f1(pct(sw, 50))} / ${f1(pct(sw, 99))} ms, row listing p50 / p99 ${f1(pct(ls, 50))} / ${f1(pct(ls, 99))} ms`);
    if (st.failed + st.refused > 0) console.log(`  merges failed ${st.failed}, refused ${st.refused}; first: ${warnings[0] ?? '-'}`);
    console.log(`  produce ack p99: ${f1(pct(without, 99))} ms with no merge running (${without.length} acks in the off windows; first third without the merger: ${f1(pct(phaseA, 99))} ms), ${f1(pct(during, 99))} ms while merging (${during.length} acks) → ${during.length === 0 || without.length === 0 ? 'not measured' : `${f1((pct(during, 99) / pct(without, 99) - 1) * 100)} % (target ≤ +20 %)`}; p50 ${f1(pct(without, 50))} / ${f1(pct(during, 50))} ms`);
    console.log(`  cold fetch: ${f1(unmergedMBs)} MB/s from unmerged segments (after phase A), ${f1(mergedMBs)} MB/s after merging (all data)`);
    console.log(`  memory while merging (whole process, incl. the writer and ${backend === 'embedded' ? 'PGlite' : 'the S3 client'}): peak heap + buffers ${f1(peakBuffers / MB)} MB, peak RSS ${f1(peakRss / MB)} MB`);
    console.log(`  rows per partition: ${f1(rowsA)} after ${f1(seconds / 3)} s unmerged (≈ ${f1((rowsA / (seconds / 3)) * 3600)} per partition-hour); at the end ${f1(shapeB.reduce((n, s) => n + s.rows, 0) / P)} rows, ${f1(shapeB.reduce((n, s) => n + s.objects, 0) / P)} objects per partition`);
    console.log(
      final.length === 0
        ? `  no row reached half the target yet (run longer for rows per partition-hour at this target)`
        : `  merged rows of ≥ half the target hold ${f1(finalBatchBytes / MB)} MB of batches each → ${f1((3600 * MB) / finalBatchBytes)} rows (and objects) per partition-hour at 1 MB/s (target ≤ 60), plus a window of ${Math.min(...windowRows)}-${Math.max(...windowRows)} smaller rows per partition still being merged`,
    );
    await inner.close();
    await store.close();
  } finally {
    await s3?.stop();
    await pgServer?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function mergeBenches(args: string[]): Promise<void> {
  const seconds = Number(arg(args, 'merge-seconds', '90'));
  const target = Number(arg(args, 'merge-target-bytes', String(8 * 1024 * 1024)));
  const P = Number(arg(args, 'merge-partitions', '4'));
  const windowS = Number(arg(args, 'merge-window-seconds', '4'));
  const which = arg(args, 'merge-backend', 'both');
  const vacuumMs = Number(arg(args, 'merge-vacuum-interval-ms', String(SETTINGS.embeddedVacuumIntervalMs.default)));
  if (which !== 'postgres') await mergeBench(seconds, target, P, 'embedded', windowS, vacuumMs);
  if (which !== 'embedded') {
    const { findPostgresBinaries } = await import('../test/helpers/postgres.js');
    if (findPostgresBinaries() === undefined) console.log('\n[merging: PostgreSQL + S3 test server] skipped: no PostgreSQL server binaries');
    else await mergeBench(seconds, target, P, 'postgres', windowS, 0);
  }
}

export async function run(args: string[]): Promise<void> {
  const metaKind = arg(args, 'metadata', 'pglite');
  const seconds = Number(arg(args, 'seconds', '4'));
  const only = arg(args, 'only', '');
  const compact = () =>
    compactionBench({ rows: Number(arg(args, 'compact-rows', '100')), recordsPerRow: 2000, keys: Number(arg(args, 'compact-keys', '20000')), valueBytes: 100 });
  if (only === 'compact') return compact();
  if (only === 'vacuum') {
    const templates = Array.from({ length: 50 }, (_, i) => batchOf(20, i));
    return vacuumBench({ seconds: Number(arg(args, 'vacuum-seconds', '60')), P: Number(arg(args, 'vacuum-partitions', '4')), intervalMs: Number(arg(args, 'vacuum-interval-ms', '10000')), openLoop, templates, scaleRows: arg(args, 'vacuum-rows', '20000,100000').split(',').filter((x) => x !== '').map(Number) });
  }
  if (arg(args, 'only', '') === 'merge') {
    await mergeBenches(args);
    return;
  }
  const l = await lz4Bench();
  console.log(`storage benchmark — metadata: ${metaKind === 'fake' ? 'in-memory fake' : 'PGlite (real store, through the cache)'}; ${seconds} s per phase`);
  console.log(`LZ4 on JSON-ish record batches (256 KiB blocks): compress ${f1(l.compMBs)} MB/s (1 thread), ${f1(l.asyncMBs)} MB/s (async, thread pool); decompress ${f1(l.decompMBs)} MB/s; ratio ${l.ratio.toFixed(2)}`);
  const results: BackendResult[] = [];
  for (const name of ['local', 's3'] as const) {
    if (only !== '' && only !== name) continue;
    const r = await benchBackend(name, metaKind, seconds, Number(arg(args, `flush-ms-${name}`, '-1')), Number(arg(args, 'inflight', '2')));
    results.push(r);
    const label = name === 'local' ? 'local directory (fsync)' : 'S3 server (fauxqs, child process)';
    console.log(`\n[${label}] flush.ms=${r.flushMs}`);
    console.log(`  write ${f1(r.writeMBs)} MB/s   read cold ${f1(r.readColdMBs)} MB/s   read warm ${f1(r.readWarmMBs)} MB/s`);
    console.log(
      `  100 partitions @ ${f1(r.achievedMBs)} MB/s: ${f1(r.putsPerSec)} PUTs/s (cycles ${f1(r.cyclesPerSec)}/s, flush rate ≤ ${f1(r.flushRate)}/s; per-partition would be ${f1(r.flushRate * 100)}/s)`,
    );
    console.log(`  cycle phases: ${r.phases}`);
    console.log(`  ack latency p50 ${f1(r.ackP50)} ms  p99 ${f1(r.ackP99)} ms  max ${f1(r.ackMax)} ms   PUT p50 ${f1(r.putP50)} ms  p99 ${f1(r.putP99)} ms`);
    if (name === 'local') {
      console.log(`  targets: ack p99 ≤ 20 ms → ${r.ackP99 <= 20 ? 'met' : 'MISSED'}; write ≥ 100 MB/s → ${r.writeMBs >= 100 ? 'met' : 'MISSED'}`);
    } else {
      const bound = r.flushMs + 2 * r.putP99;
      console.log(`  target: ack p99 ≤ flush.ms + 2 × PUT p99 = ${f1(bound)} ms → ${r.ackP99 <= bound ? 'met' : 'MISSED'}`);
    }
  }
  if (metaKind !== 'fake' && only === '') await compact();
  if (metaKind !== 'fake' && (only === '' || only === 'local')) {
    await mergeBenches(args);
  }
}
