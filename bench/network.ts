// npm run bench -- network [--abusers N] [--frame-mib N] [--seconds N] [-- agent flags…]
// Issue 12's memory target: an embedded agent with its default bounds (queued.max.request.bytes
// 256 MiB, 100 MiB frames, 30 s receive deadline) while N connections each send 90 % of a large frame
// and stop. Reports the agent's RSS growth against the request-memory budget, and the produce latency
// (acks=all, one 1 KiB record per request, one request at a time) of a well-behaved client before and
// during the abuse. Target: RSS growth ≤ queued.max.request.bytes; produce p99 during ≤ 2 × before + 50 ms.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { buildRecordBatchSync } from '../protocol/record-batch.js';
import { startAgent } from '../test/helpers/agent.js';
import { RawClient } from '../test/helpers/raw-client.js';

const MiB = 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Produces one 1 KiB record per request for `seconds`; returns sorted latencies in ms. */
async function produceLatencies(c: RawClient, topic: string, seconds: number): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const records = buildRecordBatchSync({ records: [{ key: null, value: Buffer.alloc(1024, 1), timestamp: Date.now() }] });
    const t0 = performance.now();
    const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    out.push(performance.now() - t0);
    const code = res.responses[0].partitionResponses[0].errorCode;
    if (code !== ErrorCode.NONE) throw new Error(`produce failed with error ${code}`);
  }
  return out.sort((a, b) => a - b);
}

export async function run(args: string[]): Promise<void> {
  const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
  const abusers = opt('--abusers', 16);
  const frameBytes = opt('--frame-mib', 100) * MiB;
  const seconds = opt('--seconds', 10);
  const agentArgs = args.includes('--') ? args.slice(args.indexOf('--') + 1) : [];
  const agent = await startAgent({ args: agentArgs, env: { STREAMHOUSE_LOG_LEVEL: 'warn', STREAMHOUSE_POISON_RELEASED_FRAMES: 'false' } });
  const sockets: Socket[] = [];
  try {
    const c = await RawClient.connect(agent.port);
    await c.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'bench-network', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    const before = await produceLatencies(c, 'bench-network', 3);
    const rss0 = rssMiB(agent.pid);
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(agent.pid))), 50);
    const partial = Buffer.alloc(4 + Math.floor(frameBytes * 0.9), 7);
    partial.writeInt32BE(frameBytes, 0);
    for (let i = 0; i < abusers; i++) {
      const s = connect({ port: agent.port, host: '127.0.0.1', localAddress: `127.0.1.${1 + (i % 200)}` });
      s.on('error', () => undefined);
      await once(s, 'connect');
      s.write(partial);
      sockets.push(s);
    }
    const during = await produceLatencies(c, 'bench-network', seconds);
    clearInterval(sampler);
    c.close();
    const attempted = (abusers * partial.length) / MiB;
    console.log(`network: ${abusers} connections each sending 90 % of a ${frameBytes / MiB} MiB frame (${attempted.toFixed(0)} MiB in all), agent flags: ${agentArgs.join(' ') || '(defaults)'}`);
    console.log(`  agent RSS: ${rss0.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB during (+${(peak - rss0).toFixed(0)} MiB)`);
    const fmt = (l: number[]) => `p50 ${percentile(l, 50).toFixed(1)} / p99 ${percentile(l, 99).toFixed(1)} ms (${l.length} requests)`;
    console.log(`  produce latency, acks=all, before: ${fmt(before)}`);
    console.log(`  produce latency, acks=all, during: ${fmt(during)}`);
  } finally {
    for (const s of sockets) s.destroy();
    await agent.stop();
  }
}
