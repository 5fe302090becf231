// npm run bench -- e2e [--seconds N] [--rounds N] [--only embedded|postgres+s3]
// For each configuration (embedded: PGlite + local directory; PostgreSQL + the S3 test server):
// 1. produce throughput with acks=all, 1 KiB records over many partitions, from a load generator that
//    sends pre-encoded Produce requests over several connections — and, in the same run, the same
//    generator against the null broker (decodes, answers at once, stores nothing);
// 2. produce→consume latency p50/p99 at a steady 10 MB/s (a tail consumer long-polls Fetch);
// 3. peak RSS of the agent process during the run (and, separately, the start-up peak).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey, ErrorCode, decodeResponse, encodeRequest } from '../protocol/index.js';
import { buildRecordBatchSync, readBatchHeader, splitBatchesLenient } from '../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { BACKENDS, startBackend, type BackendName } from '../test/helpers/backends.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { pipelined } from './_pipeline.js';
import { projectRoot } from '../test/helpers/paths.js';
import { freePort } from '../test/helpers/ports.js';

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 16;
const PARTITIONS = 32;
const PARTITIONS_PER_REQUEST = 8;
const CONNECTIONS = 16;
const DEPTH = 5; // pipelined requests per connection (Kafka producers default to max.in.flight 5)
const PRODUCE_VERSION = 7;
const FETCH_VERSION = 11;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function recordValue(i: number): Buffer {
  // JSON-ish 1 KiB payloads.
  const body = JSON.stringify({ id: i, user: `user-${i % 997}`, event: 'page_view', path: `/products/${i % 113}`, ts: 1_700_000_000_000 + i });
  return Buffer.from(body.padEnd(RECORD_BYTES, ' '));
}

/** Pre-encoded Produce requests (acks=-1), each for PARTITIONS_PER_REQUEST partitions. */
function buildRequests(topic: string): { frames: Buffer[]; bytesPerRequest: number; recordsPerRequest: number } {
  const frames: Buffer[] = [];
  for (let r = 0; r < PARTITIONS / PARTITIONS_PER_REQUEST; r++) {
    const partitionData = [];
    for (let j = 0; j < PARTITIONS_PER_REQUEST; j++) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, (_, k) => ({ key: `k${k}`, value: recordValue(k), timestamp: Date.now() }));
      partitionData.push({ index: r * PARTITIONS_PER_REQUEST + j, records: buildRecordBatchSync({ records }) });
    }
    frames.push(Buffer.concat(encodeRequest(ApiKey.Produce, PRODUCE_VERSION, 0, 'bench', { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData }] })));
  }
  return { frames, bytesPerRequest: PARTITIONS_PER_REQUEST * RECORDS_PER_BATCH * RECORD_BYTES, recordsPerRequest: PARTITIONS_PER_REQUEST * RECORDS_PER_BATCH };
}

/** Sends the pre-encoded requests round-robin for `seconds`, DEPTH in flight per connection. */
export async function loadGenerator(port: number, topic: string, seconds: number): Promise<{ mbps: number; recordsPerSec: number; errors: number; bytes: number }> {
  const { frames, bytesPerRequest, recordsPerRequest } = buildRequests(topic);
  let acked = 0;
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  const onResponse = (frame: Buffer) => {
    const { body } = decodeResponse(ApiKey.Produce, PRODUCE_VERSION, frame);
    const ok = body.responses.every((t) => t.partitionResponses.every((p) => p.errorCode === ErrorCode.NONE));
    if (ok) acked++;
    else errors++;
  };
  const conn = (c: number) => pipelined(port, frames, c, deadline, DEPTH, onResponse);
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => conn(c)));
  const secs = (Date.now() - started) / 1000;
  return { mbps: (acked * bytesPerRequest) / secs / 1e6, recordsPerSec: (acked * recordsPerRequest) / secs, errors, bytes: acked * bytesPerRequest };
}

export async function createTopic(port: number, topic: string, partitions: number): Promise<void> {
  const c = await RawClient.connect(port);
  const res = await c.request(ApiKey.CreateTopics, 3, { topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
  c.close();
  const code = res.topics[0].errorCode;
  if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new Error(`CreateTopics: error ${code}`);
}

/**
 * Produces at a steady rate and measures when a tail consumer sees each batch (batch baseTimestamp =
 * send time). The first second is a warm-up and not counted: the topic is new, so its first produce
 * waits for the partition lease, and the backlog behind it is not the steady state being measured.
 */
export async function latency(port: number, topic: string, mbPerSec: number, seconds: number): Promise<{ p50: number; p99: number; samples: number }> {
  await createTopic(port, topic, 1);
  const producer = await RawClient.connect(port);
  const consumer = await RawClient.connect(port);
  const batchRecords = 10;
  const batchesPerSec = (mbPerSec * 1e6) / (batchRecords * RECORD_BYTES);
  const interval = 1000 / batchesPerSec;
  const samples: number[] = [];
  let stop = false;
  let fetchOffset = 0;
  const steadyFrom = Date.now() + 1000;
  const consuming = (async () => {
    while (!stop) {
      const res = await consumer.request(ApiKey.Fetch, FETCH_VERSION, {
        replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 50 * 1024 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 10 * 1024 * 1024 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const now = Date.now();
      const records = res.responses[0]?.partitions[0]?.records;
      if (!records) continue;
      for (const b of splitBatchesLenient(records)) {
        const h = readBatchHeader(b);
        if (h.baseOffset + h.lastOffsetDelta < fetchOffset) continue;
        if (h.baseTimestamp >= steadyFrom) samples.push(now - h.baseTimestamp);
        fetchOffset = h.baseOffset + h.lastOffsetDelta + 1;
      }
    }
  })();
  const values = Array.from({ length: batchRecords }, (_, i) => recordValue(i));
  const start = Date.now();
  let sent = 0;
  const pending: Array<Promise<unknown>> = [];
  while (Date.now() - start < (seconds + 1) * 1000) {
    const due = start + sent * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const ts = Date.now();
    const batch = buildRecordBatchSync({ records: values.map((value) => ({ value, timestamp: ts })) });
    pending.push(producer.request(ApiKey.Produce, PRODUCE_VERSION, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] }));
    sent++;
  }
  await Promise.all(pending);
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await consuming;
  producer.close();
  consumer.close();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), samples: samples.length };
}

/** Linux: resets the process's peak RSS (VmHWM) to its current RSS; false where not allowed. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system, all threads) a process has used, from /proc (Linux; clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
  } catch {
    return NaN;
  }
}

/** Runs the load generator and measures the CPU it and the server process used per GB acked. */
async function measured(pid: number, port: number, topic: string, seconds: number) {
  const server0 = cpuSeconds(pid);
  const gen0 = process.cpuUsage();
  const r = await loadGenerator(port, topic, seconds);
  const gen = process.cpuUsage(gen0);
  const gb = r.bytes / 1e9;
  return { ...r, serverCpuPerGb: (cpuSeconds(pid) - server0) / gb, generatorCpuPerGb: (gen.user + gen.system) / 1e6 / gb };
}

async function startNullBroker(): Promise<{ port: number; pid: number; stop(): void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'bench', '_null-broker.js'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
  return { port, pid: child.pid!, stop: () => child.kill() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[args.indexOf('--seconds') + 1] || 0) || 6;
  const rounds = Number(args[args.indexOf('--rounds') + 1] || 0) || 5;
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  console.log(`e2e benchmark: ${PARTITIONS} partitions, ${RECORD_BYTES} B records, ${RECORDS_PER_BATCH} per batch, ${PARTITIONS_PER_REQUEST} partitions per request, ${CONNECTIONS} connections × ${DEPTH} in flight, acks=all, Produce v${PRODUCE_VERSION}`);
  console.log(`throughput: ${rounds} rounds of ${seconds} s against the null broker then StreamHouse, alternating (this machine's loopback throughput varies run to run); medians reported`);
  for (const name of BACKENDS.filter((b) => !only || b === only) as BackendName[]) {
    const backend = await startBackend(name);
    let agent: AgentHandle | undefined;
    const nullBroker = await startNullBroker();
    try {
      agent = await startAgent({ env: { ...backend.env, STREAMHOUSE_LOG_LEVEL: 'warn', STREAMHOUSE_POISON_RELEASED_FRAMES: 'false' } });
      // A fresh PGlite directory peaks at ~900 MB during its initdb; the run's own peak is what counts.
      const startPeak = peakRssMiB(agent.pid);
      const peakReset = resetPeakRss(agent.pid);
      await createTopic(agent.port, 'bench-throughput', PARTITIONS);
      await loadGenerator(agent.port, 'bench-throughput', 2); // warm-up
      await loadGenerator(nullBroker.port, 'bench-null', 2);
      const nul: number[] = [];
      const sh: number[] = [];
      const shRecords: number[] = [];
      const cpu = { agent: [] as number[], nullBroker: [] as number[], genAgent: [] as number[], genNull: [] as number[] };
      let errors = 0;
      for (let r = 0; r < rounds; r++) {
        const n = await measured(nullBroker.pid, nullBroker.port, 'bench-null', seconds);
        nul.push(n.mbps);
        cpu.nullBroker.push(n.serverCpuPerGb);
        cpu.genNull.push(n.generatorCpuPerGb);
        const s = await measured(agent.pid, agent.port, 'bench-throughput', seconds);
        sh.push(s.mbps);
        shRecords.push(s.recordsPerSec);
        cpu.agent.push(s.serverCpuPerGb);
        cpu.genAgent.push(s.generatorCpuPerGb);
        errors += s.errors;
      }
      const lat = await latency(agent.port, 'bench-latency', 10, seconds);
      const rss = peakRssMiB(agent.pid);
      const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
      console.log(`\n[${name}]`);
      console.log(`  produce throughput  StreamHouse ${median(sh).toFixed(1)} MB/s (${Math.round(median(shRecords))} records/s, ${errors} errors)   rounds: ${list(sh)}`);
      console.log(`                      null broker ${median(nul).toFixed(1)} MB/s   rounds: ${list(nul)}`);
      const perRound = sh.map((x, i) => (100 * x) / nul[i]);
      // The median of the per-round ratios pairs each StreamHouse round with the null-broker round just
      // before it, so a swing of the machine's speed between rounds moves both sides of a pair.
      console.log(`                      ratio       ${((100 * median(sh)) / median(nul)).toFixed(1)} % (medians; per round: ${perRound.map((x) => x.toFixed(0) + '%').join(' / ')}; median of the per-round ratios ${median(perRound).toFixed(1)} %)`);
      // CPU per GB is steadier than throughput on a machine whose loopback speed swings.
      console.log(`  CPU per GB produced (medians): StreamHouse agent ${median(cpu.agent).toFixed(2)} s, null broker ${median(cpu.nullBroker).toFixed(2)} s; load generator ${median(cpu.genAgent).toFixed(2)} s / ${median(cpu.genNull).toFixed(2)} s`);
      console.log(`  produce→consume latency at 10 MB/s: p50 ${lat.p50} ms, p99 ${lat.p99} ms (${lat.samples} batches)`);
      console.log(peakReset
        ? `  agent peak RSS during the run: ${rss.toFixed(0)} MiB (start-up peak: ${startPeak.toFixed(0)} MiB)`
        : `  agent peak RSS: ${rss.toFixed(0)} MiB (start-up included)`);
    } finally {
      nullBroker.stop();
      await agent?.stop();
      await backend.stop();
    }
  }
}
