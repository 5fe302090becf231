// npm run bench -- metrics [--seconds N] [--rounds N] [--scrape-ms N]
// What collecting metrics costs the produce path: two embedded agents (PGlite + local directory) side
// by side, one with metrics on (its /metrics scraped every --scrape-ms, 1 s by default, harsher than
// Prometheus's usual 15 s) and one with --http-port 0 (nothing collected). Rounds alternate between
// them, the order swapped every round, with the e2e benchmark's load generator (acks=all, 1 KiB
// records, 32 partitions, 16 connections × 5 in flight); only one agent is loaded at a time.
// Prints the throughput of each, their difference (medians, and the median of per-round ratios),
// and agent CPU per GB produced, which is steadier on a machine whose loopback throughput swings.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ApiKey } from '../protocol/index.js';
import { AgentMetrics, S3_STANDARD_US_EAST_1 } from '../src/metrics/index.js';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { createTopic, loadGenerator } from './e2e.js';

const TOPIC = 'bench-metrics';
const PARTITIONS = 32;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

/**
 * The hooks one Produce request of the load generator costs, in process (no noise from other
 * processes): the dispatcher's request count and latency, and per partition (8) bytes and messages in
 * and the ack latency. Returns microseconds per request.
 */
function hookCostMicros(): number {
  const m = new AgentMetrics(S3_STANDARD_US_EAST_1);
  const topics = ['bench-metrics'];
  const once = () => {
    const t = performance.now();
    for (let p = 0; p < 8; p++) m.produced(topics[0], 16 * 1024 + 61, 16, t);
    m.requestDone(ApiKey.Produce, 7, t);
  };
  for (let i = 0; i < 50_000; i++) once(); // warm-up
  const n = 300_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) once();
  return ((performance.now() - t0) * 1000) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function round(agent: AgentHandle, seconds: number, scrapeMs: number): Promise<{ mbps: number; cpuPerGb: number; errors: number; scrapes: number }> {
  let scrapes = 0;
  let timer: NodeJS.Timeout | undefined;
  if (agent.httpUrl !== undefined) {
    const url = `${agent.httpUrl}/metrics`;
    timer = setInterval(() => {
      void fetch(url).then((r) => r.text()).then(() => scrapes++, () => undefined);
    }, scrapeMs);
  }
  const cpu0 = cpuSeconds(agent.pid);
  try {
    const r = await loadGenerator(agent.port, TOPIC, seconds);
    return { mbps: r.mbps, cpuPerGb: (cpuSeconds(agent.pid) - cpu0) / (r.bytes / 1e9), errors: r.errors, scrapes };
  } finally {
    clearInterval(timer);
  }
}

export async function run(args: string[]): Promise<void> {
  const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
  const seconds = opt('--seconds', 6);
  const rounds = opt('--rounds', 6);
  const scrapeMs = opt('--scrape-ms', 1000);
  console.log(`metrics benchmark: two embedded agents, metrics on (scraped every ${scrapeMs} ms) and off (--http-port 0); ${rounds} rounds of ${seconds} s each, alternating, order swapped every round`);
  const env = { STREAMHOUSE_LOG_LEVEL: 'warn', STREAMHOUSE_POISON_RELEASED_FRAMES: 'false' };
  const [on, off] = await Promise.all([startAgent({ env }), startAgent({ env, args: ['--http-port', '0'] })]);
  try {
    if (on.httpUrl === undefined || off.httpUrl !== undefined) throw new Error('expected one agent with metrics and one without');
    for (const a of [on, off]) {
      await createTopic(a.port, TOPIC, PARTITIONS);
      await loadGenerator(a.port, TOPIC, 2); // warm-up: leases, JIT
    }
    const results = { on: [] as Array<Awaited<ReturnType<typeof round>>>, off: [] as Array<Awaited<ReturnType<typeof round>>> };
    for (let r = 0; r < rounds; r++) {
      const order: Array<'on' | 'off'> = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const side of order) results[side].push(await round(side === 'on' ? on : off, seconds, scrapeMs));
      console.log(`  round ${r + 1}: on ${results.on[r].mbps.toFixed(1)} MB/s (${results.on[r].cpuPerGb.toFixed(2)} CPU-s/GB, ${results.on[r].scrapes} scrapes), off ${results.off[r].mbps.toFixed(1)} MB/s (${results.off[r].cpuPerGb.toFixed(2)} CPU-s/GB)`);
    }
    const mOn = median(results.on.map((x) => x.mbps));
    const mOff = median(results.off.map((x) => x.mbps));
    const ratios = results.on.map((x, i) => x.mbps / results.off[i].mbps);
    const cpuOn = median(results.on.map((x) => x.cpuPerGb));
    const cpuOff = median(results.off.map((x) => x.cpuPerGb));
    const errors = [...results.on, ...results.off].reduce((n, x) => n + x.errors, 0);
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;
    console.log(`\nproduce throughput (medians): metrics on ${mOn.toFixed(1)} MB/s, off ${mOff.toFixed(1)} MB/s: ${pct(100 * (mOn / mOff - 1))} (median of per-round ratios ${pct(100 * (median(ratios) - 1))}; target: no worse than -3 %)`);
    console.log(`agent CPU per GB produced (medians): on ${cpuOn.toFixed(2)} s, off ${cpuOff.toFixed(2)} s: ${pct(100 * (cpuOn / cpuOff - 1))}`);
    console.log(`errors: ${errors}`);
    const micros = hookCostMicros();
    // One request carries 8 partitions × 16 records × 1 KiB.
    const requestBytes = 8 * 16 * 1024;
    const agentMicrosPerRequest = (cpuOff * 1e6 * requestBytes) / 1e9;
    console.log(`hot-path hooks, in process: ${micros.toFixed(2)} µs per Produce request of 8 partitions, against ${agentMicrosPerRequest.toFixed(0)} µs of agent CPU per such request (metrics off): ${((100 * micros) / agentMicrosPerRequest).toFixed(2)} %`);
  } finally {
    await Promise.all([on.stop(), off.stop()]);
  }
}
