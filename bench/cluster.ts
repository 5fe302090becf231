// npm run bench -- cluster [--seconds N]
// Three agents on PostgreSQL + the S3 test server (default settings), one topic of 300 partitions:
// - placement: partitions each agent leads (max/min) once Metadata from every agent agrees;
// - failover: kill -9 of an agent, then the time until the first acknowledged produce (acks=all) on
//   each partition it led, p50/p99 (a client loop: Metadata from a survivor every 20 ms, one record
//   to each partition at the leader it names);
// - graceful handoff: the same after SIGTERM, plus the error codes the producing loop saw;
// - lease renewal: one agent's renewal of 10,000 leases in one statement, next to one statement per
//   partition (1,000 timed and scaled);
// - produce throughput (1 KiB records, acks=all, pipelined) against three agents, then, in the same
//   run, against one agent leading every partition.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadataStore } from '../metadata/index.js';
import { ApiKey, ErrorCode, decodeResponse, encodeRequest } from '../protocol/index.js';
import { buildRecordBatchSync } from '../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { startBackend, type Backend } from '../test/helpers/backends.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { pipelined } from './_pipeline.js';

const PARTITIONS = 300;
const TOPIC = 'bench-cluster';
const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

interface Node {
  nodeId: number;
  agent: AgentHandle;
}

/** Leader node id of each partition as `port`'s agent names it (-1 when none). */
async function leadersFrom(port: number): Promise<number[]> {
  const c = await RawClient.connect(port);
  try {
    const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const out = new Array<number>(PARTITIONS).fill(-1);
    for (const p of md.topics[0]?.partitions ?? []) out[p.partitionIndex] = p.leaderId;
    return out;
  } finally {
    c.close();
  }
}

/** Waits until every agent names the same leaders, each a live node, for two seconds running. */
async function settled(nodes: Node[], timeoutMs: number): Promise<number[]> {
  const live = new Set(nodes.map((n) => n.nodeId));
  const deadline = Date.now() + timeoutMs;
  let since = 0;
  let last = '';
  for (;;) {
    const views = await Promise.all(nodes.map((n) => leadersFrom(n.agent.port).catch(() => [])));
    const key = JSON.stringify(views[0]);
    const agree = views.every((v) => JSON.stringify(v) === key) && views[0].every((l) => live.has(l));
    if (agree && key === last) {
      if (Date.now() - since >= 2000) return views[0];
    } else {
      since = Date.now();
      last = agree ? key : '';
    }
    if (Date.now() > deadline) throw new Error('the agents did not agree on leaders in time');
    await sleep(200);
  }
}

const oneRecord = buildRecordBatchSync({ records: [{ value: Buffer.from('failover probe') }] });

/**
 * Stops `victim` with `signal` and measures, per partition it led, the time from the signal to the
 * first acknowledged produce, retrying at whatever leader a survivor's Metadata names.
 */
async function measureMove(victim: Node, survivors: Node[], signal: NodeJS.Signals): Promise<{ times: number[]; errors: Map<number, number>; missing: number }> {
  const before = await leadersFrom(survivors[0].agent.port);
  const pending = new Set(before.flatMap((l, p) => (l === victim.nodeId ? [p] : [])));
  const portOf = new Map(survivors.map((n) => [n.nodeId, n.agent.port]));
  const clients = new Map<number, RawClient>();
  for (const n of survivors) clients.set(n.nodeId, await RawClient.connect(n.agent.port));
  const times: number[] = [];
  const errors = new Map<number, number>();
  const t0 = performance.now();
  const stopped = victim.agent.stop(signal);
  const deadline = t0 + 120_000;
  while (pending.size > 0 && performance.now() < deadline) {
    const leaders = await leadersFrom(survivors[0].agent.port).catch(() => before);
    const byLeader = new Map<number, number[]>();
    for (const p of pending) {
      const l = leaders[p];
      if (portOf.has(l)) byLeader.set(l, [...(byLeader.get(l) ?? []), p]);
    }
    await Promise.all(
      [...byLeader].map(async ([leader, ps]) => {
        const r = await clients.get(leader)!.request(ApiKey.Produce, 9, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 10_000,
          topicData: [{ name: TOPIC, partitionData: ps.map((index) => ({ index, records: oneRecord })) }],
        });
        const at = performance.now() - t0;
        for (const pr of r.responses[0].partitionResponses) {
          if (pr.errorCode === ErrorCode.NONE) {
            if (pending.delete(pr.index)) times.push(at);
          } else errors.set(pr.errorCode, (errors.get(pr.errorCode) ?? 0) + 1);
        }
      }),
    );
    await sleep(20);
  }
  await stopped;
  for (const c of clients.values()) c.close();
  return { times, errors, missing: pending.size };
}

/** Pipelined Produce requests (one batch of 100 × 1 KiB per partition) to each partition's leader for `seconds`. */
async function throughput(leaders: number[], portOf: Map<number, number>, seconds: number): Promise<{ mbps: number; errors: number }> {
  const value = Buffer.from('x'.repeat(RECORD_BYTES));
  const batch = buildRecordBatchSync({ records: Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `k${i}`, value })) });
  const partitionsPerRequest = 4;
  let acked = 0;
  let errors = 0;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const conn = async (port: number, partitions: number[]) => {
    const frames: Buffer[] = [];
    for (let i = 0; i < partitions.length; i += partitionsPerRequest) {
      const partitionData = partitions.slice(i, i + partitionsPerRequest).map((index) => ({ index, records: batch }));
      frames.push(Buffer.concat(encodeRequest(ApiKey.Produce, 9, 0, 'bench', { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData }] })));
    }
    await pipelined(port, frames, 0, deadline, 5, (frame) => {
      const { body } = decodeResponse(ApiKey.Produce, 9, frame);
      for (const pr of body.responses[0].partitionResponses) {
        if (pr.errorCode === ErrorCode.NONE) acked += RECORDS_PER_BATCH * RECORD_BYTES;
        else errors++;
      }
    });
  };
  const work: Array<Promise<void>> = [];
  for (const [nodeId, port] of portOf) {
    const mine = leaders.flatMap((l, p) => (l === nodeId ? [p] : []));
    // Four connections per agent, each with its slice of that agent's partitions.
    for (let c = 0; c < 4; c++) {
      const slice = mine.filter((_, i) => i % 4 === c);
      if (slice.length > 0) work.push(conn(port, slice));
    }
  }
  await Promise.all(work);
  return { mbps: acked / ((Date.now() - started) / 1000) / 1e6, errors };
}

async function renewalCost(databaseUrl: string): Promise<{ oneStatementMs: number; perPartitionMs: number; leases: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'streamhouse-bench-renew-'));
  const store = await openMetadataStore({ databaseUrl, dataDir: dir });
  try {
    const n = 10_000;
    await store.createTopic({ name: 'bench-renewal', partitionCount: n });
    const all = Array.from({ length: n }, (_, partitionId) => ({ topic: 'bench-renewal', partitionId }));
    let held = 0;
    for (let i = 0; i < n; i += 1000) held += (await store.acquirePartitionLeases('bench-renewer', all.slice(i, i + 1000), 60_000)).length;
    const rounds: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const renewed = await store.renewAgentLeases('bench-renewer', 60_000);
      rounds.push(performance.now() - t);
      if (renewed.length !== n) throw new Error(`renewed ${renewed.length} of ${n}`);
    }
    const leases = await store.listPartitionLeases('bench-renewal');
    const sample = leases.slice(0, 1000);
    const t = performance.now();
    for (const l of sample) await store.renewPartitionLease(l.topic, l.partitionId, 'bench-renewer', l.epoch, 60_000);
    const perPartitionMs = ((performance.now() - t) / sample.length) * n;
    return { oneStatementMs: percentile(rounds, 50), perPartitionMs, leases: held };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[args.indexOf('--seconds') + 1] || 0) || 8;
  const backend: Backend = await startBackend('postgres+s3');
  const env = { ...backend.env, STREAMHOUSE_LOG_LEVEL: 'warn', STREAMHOUSE_POISON_RELEASED_FRAMES: 'false' };
  // Data directories of our own, kept across a kill: a restarted agent keeps its agent id (the one its
  // data directory holds) and node id.
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'streamhouse-bench-cluster-')));
  const start = (nodeId: number) => startAgent({ env, args: ['--node-id', String(nodeId)], dataDir: dirs[nodeId], cleanup: false }).then((agent) => ({ nodeId, agent }));
  let nodes: Node[] = [];
  try {
    nodes = await Promise.all([0, 1, 2].map(start));
    const c = await RawClient.connect(nodes[0].agent.port);
    const created = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
    c.close();
    if (created.topics[0].errorCode !== ErrorCode.NONE) throw new Error(`CreateTopics: error ${created.topics[0].errorCode}`);
    console.log(`cluster benchmark: 3 agents on PostgreSQL + S3 test server, topic of ${PARTITIONS} partitions`);

    const t = performance.now();
    let leaders = await settled(nodes, 120_000);
    const counts = nodes.map((n) => leaders.filter((l) => l === n.nodeId).length);
    console.log(`placement: partitions per agent ${counts.join(' / ')} (max/min ${(Math.max(...counts) / Math.max(1, Math.min(...counts))).toFixed(2)}), settled ${((performance.now() - t) / 1000).toFixed(1)} s after creation`);

    const three = await throughput(leaders, new Map(nodes.map((n) => [n.nodeId, n.agent.port])), seconds);
    console.log(`produce, three agents: ${three.mbps.toFixed(1)} MB/s (1 KiB records, acks=all; errors ${three.errors})`);

    const show = (what: string, r: Awaited<ReturnType<typeof measureMove>>) =>
      console.log(
        `${what}: ${r.times.length} partitions, first acknowledged produce p50 ${(percentile(r.times, 50) / 1000).toFixed(2)} s, p99 ${(percentile(r.times, 99) / 1000).toFixed(2)} s` +
          `, max ${(Math.max(...r.times) / 1000).toFixed(2)} s${r.missing ? `, ${r.missing} never acknowledged` : ''}; errors seen ${JSON.stringify(Object.fromEntries(r.errors))}`,
      );

    // Failover: kill -9 the agent leading partition 0, then bring it back and let the cluster settle.
    const victim = nodes.find((n) => n.nodeId === leaders[0])!;
    const crashed = await measureMove(victim, nodes.filter((n) => n !== victim), 'SIGKILL');
    show('failover after kill -9', crashed);
    nodes = [...nodes.filter((n) => n !== victim), { nodeId: victim.nodeId, agent: await victim.agent.restart('SIGKILL') }];
    leaders = await settled(nodes, 120_000);

    // Graceful handoff: SIGTERM the agent leading partition 1.
    const leaving = nodes.find((n) => n.nodeId === leaders[1])!;
    const handed = await measureMove(leaving, nodes.filter((n) => n !== leaving), 'SIGTERM');
    show('graceful handoff on SIGTERM', handed);
    nodes = nodes.filter((n) => n !== leaving);

    // One agent: stop another gracefully, the last one leads everything.
    const last = nodes[0];
    await nodes[1].agent.stop('SIGTERM');
    nodes = [last];
    leaders = await settled(nodes, 120_000);
    const one = await throughput(leaders, new Map([[last.nodeId, last.agent.port]]), seconds);
    console.log(`produce, one agent: ${one.mbps.toFixed(1)} MB/s (errors ${one.errors}); three agents / one = ${(three.mbps / one.mbps).toFixed(2)} (all agents and the load generator share this machine's cores)`);

    // A database of its own: agents place (and lease) every partition of every topic they see.
    const renew = await renewalCost(await backend.postgres!.createDatabase());
    console.log(`lease renewal of ${renew.leases} partitions on one agent: one statement ${renew.oneStatementMs.toFixed(1)} ms (median of 10); one statement per partition ~${(renew.perPartitionMs / 1000).toFixed(1)} s (1,000 timed, scaled)`);
  } finally {
    await Promise.all(nodes.map((n) => n.agent.stop('SIGKILL').catch(() => undefined)));
    await backend.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
