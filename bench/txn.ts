// npm run bench -- txn [--seconds N] [--only embedded|postgres+s3]
// Transactions (issue 16), against one real agent on each configuration, with kafkajs clients:
// 1. transactions/s of small transactions (10 records of 100 bytes): all to 1 partition, and one record
//    to each of 10 partitions; one producer (sequential), then 8 producers (own transactional ids) at once;
// 2. produce throughput, same run: an idempotent producer and a transactional one (a transaction per
//    10 sends of 100 records of 1 KiB), each sending for N seconds, one send in flight;
// 3. end-to-end latency of a read_committed consumer: one-record transactions; time from the send's
//    start to the consumer's eachMessage (so it includes the commit and the markers), p50/p99.
import kafkajs from 'kafkajs';
import '../test/helpers/node22-shims.js';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { BACKENDS, startBackend, type Backend, type BackendName } from '../test/helpers/backends.js';

const { Kafka, logLevel } = kafkajs;

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

type KafkaClient = InstanceType<typeof Kafka>;

async function txnRate(kafka: KafkaClient, topic: string, partitions: number, producers: number, seconds: number, tag: string): Promise<{ perSec: number; p50: number; p99: number }> {
  const value = Buffer.alloc(100, 'x');
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: producers }, async (_, i) => {
      const producer = kafka.producer({ transactionalId: `bench-${tag}-${i}-${Date.now()}`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        while (Date.now() < deadline) {
          const t0 = performance.now();
          const txn = await producer.transaction();
          await txn.send({ topic, messages: Array.from({ length: 10 }, (_, j) => ({ value, partition: partitions === 1 ? i % 10 : j % partitions })) });
          await txn.commit();
          latencies.push(performance.now() - t0);
        }
      } finally {
        await producer.disconnect();
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSec: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function throughput(kafka: KafkaClient, topic: string, transactional: boolean, seconds: number): Promise<{ recordsPerSec: number; mbPerSec: number }> {
  const value = Buffer.alloc(1024, 'y');
  const producer = transactional
    ? kafka.producer({ transactionalId: `bench-tp-${Date.now()}`, idempotent: true, maxInFlightRequests: 1 })
    : kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = Array.from({ length: 100 }, (_, j) => ({ value, partition: j % 10 }));
  let records = 0;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  try {
    while (Date.now() < deadline) {
      if (transactional) {
        const txn = await producer.transaction();
        for (let s = 0; s < 10; s++) await txn.send({ topic, messages });
        await txn.commit();
        records += 1000;
      } else {
        await producer.send({ topic, messages });
        records += 100;
      }
    }
  } finally {
    await producer.disconnect();
  }
  const elapsed = (Date.now() - started) / 1000;
  return { recordsPerSec: records / elapsed, mbPerSec: (records * 1024) / elapsed / 1e6 };
}

async function readCommittedLatency(kafka: KafkaClient, topic: string, count: number): Promise<{ p50: number; p99: number; n: number }> {
  const consumer = kafka.consumer({ groupId: `bench-rc-${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 500 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((r) => (resolveAll = r));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  let assigned!: () => void;
  const ready = new Promise<void>((r) => (assigned = r));
  consumer.on(consumer.events.GROUP_JOIN, () => assigned());
  void consumer.run({
    eachMessage: async ({ message }) => {
      const t0 = sentAt.get(message.value!.toString());
      if (t0 !== undefined) latencies.push(performance.now() - t0);
      if (latencies.length >= count) resolveAll();
    },
  });
  await ready;
  await new Promise((r) => setTimeout(r, 1000));
  const producer = kafka.producer({ transactionalId: `bench-rc-${Date.now()}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < count; i++) {
    const v = `rc-${i}`;
    sentAt.set(v, performance.now());
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: v, partition: 0 }] });
    await txn.commit();
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.race([all, new Promise((r) => setTimeout(r, 15_000))]);
  await producer.disconnect();
  await consumer.disconnect();
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length };
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(arg(args, '--seconds') ?? 10);
  const only = arg(args, '--only');
  for (const name of BACKENDS.filter((n) => !only || n === only) as BackendName[]) {
    let backend: Backend | undefined;
    let agent: AgentHandle | undefined;
    try {
      backend = await startBackend(name);
      agent = await startAgent({ env: { ...backend.env, STREAMHOUSE_LOG_LEVEL: 'warn' } });
      const kafka = new Kafka({ clientId: 'bench-txn', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: ['bench-txn-10', 'bench-txn-tp', 'bench-txn-rc'].map((topic) => ({ topic, numPartitions: 10 })) });
      await admin.disconnect();
      console.log(`\n== ${name} (one agent) ==`);
      for (const producers of [1, 8]) {
        const one = await txnRate(kafka, 'bench-txn-10', 1, producers, seconds, `p1-${producers}`);
        console.log(`10-record transactions, 1 partition${producers > 1 ? ' per producer' : ''}, ${producers} producer(s): ${fmt(one.perSec, 1)} txn/s (commit-to-commit p50 ${fmt(one.p50, 1)} ms, p99 ${fmt(one.p99, 1)} ms)`);
        const ten = await txnRate(kafka, 'bench-txn-10', 10, producers, seconds, `p10-${producers}`);
        console.log(`10-record transactions, 10 partitions, ${producers} producer(s): ${fmt(ten.perSec, 1)} txn/s (p50 ${fmt(ten.p50, 1)} ms, p99 ${fmt(ten.p99, 1)} ms)`);
      }
      const idem = await throughput(kafka, 'bench-txn-tp', false, seconds);
      const txn = await throughput(kafka, 'bench-txn-tp', true, seconds);
      console.log(
        `produce, 1 KiB records, sends of 100 over 10 partitions, one in flight: idempotent ${fmt(idem.recordsPerSec)} records/s (${fmt(idem.mbPerSec, 1)} MB/s); ` +
          `transactional (commit every 1,000 records) ${fmt(txn.recordsPerSec)} records/s (${fmt(txn.mbPerSec, 1)} MB/s); ratio ${fmt(txn.recordsPerSec / idem.recordsPerSec, 2)}`,
      );
      const rc = await readCommittedLatency(kafka, 'bench-txn-rc', 200);
      console.log(`read_committed end-to-end (send start → consumer, one-record transactions): p50 ${fmt(rc.p50, 1)} ms, p99 ${fmt(rc.p99, 1)} ms over ${rc.n}`);
    } finally {
      await agent?.stop();
      await backend?.stop();
    }
  }
}
