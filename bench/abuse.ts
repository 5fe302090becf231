// npm run bench -- abuse [--seconds N] [--rounds N]
// The well-behaved clients' throughput with and without a hostile client next to them, in one run on
// one agent (embedded defaults): a kafkajs producer (acks=all, 1 KiB records, batches of 100) and a
// kafkajs consumer group on the same topic, measured for N seconds quiet, then N seconds while the
// hostile client of test/helpers/hostile.ts runs in a loop (bombs, lying headers, 1,000 slow
// connections, 50 half-sent 100 MiB frames, Fetch with max_bytes 2^31-1, garbage frames). Rounds
// alternate quiet / abuse; medians reported, plus the agent's peak RSS during the abuse rounds.
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { buildRecordBatchSync } from '../protocol/record-batch.js';
import { startAgent } from '../test/helpers/agent.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { rssOf, startAbuse } from '../test/helpers/hostile.js';

const { Kafka, logLevel } = kafkajs;
const MiB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<void> {
  const seconds = Number(args[args.indexOf('--seconds') + 1] || 0) || 8;
  const rounds = Number(args[args.indexOf('--rounds') + 1] || 0) || 3;
  const agent = await startAgent({ env: { STREAMHOUSE_LOG_LEVEL: 'warn', STREAMHOUSE_POISON_RELEASED_FRAMES: 'false' } });
  const c = await RawClient.connect(agent.port);
  try {
    const create = async (name: string, numPartitions: number, configs: Array<{ name: string; value: string }> = []) => {
      const r = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs }], timeoutMs: 10_000, validateOnly: false });
      if (r.topics[0].errorCode !== ErrorCode.NONE) throw new Error(`create ${name}: error ${r.topics[0].errorCode}`);
    };
    await create('bench-good', 4);
    await create('bench-hostile', 1);
    await create('bench-big', 1, [{ name: 'max.message.bytes', value: String(17 * MiB) }, { name: 'retention.ms', value: '-1' }]);
    const big = buildRecordBatchSync({ records: [{ value: Buffer.alloc(16 * MiB - 200, 'streamhouse ') }] });
    for (let i = 0; i < 64; i++) {
      await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: 'bench-big', partitionData: [{ index: 0, records: big }] }] });
    }

    const kafka = new Kafka({ clientId: 'bench-good', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: 'bench-good-group' });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: 'bench-good', fromBeginning: false });
    let consumed = 0;
    await consumer.run({ eachBatch: async ({ batch }) => void (consumed += batch.messages.length) });
    const value = Buffer.alloc(1024, 'x');
    let errors = 0;

    const measure = async (): Promise<{ produceMBps: number; consumeMBps: number }> => {
      const end = Date.now() + seconds * 1000;
      const start = Date.now();
      const consumedBefore = consumed;
      let records = 0;
      // Four sends in flight, each 100 records over the four partitions.
      await Promise.all([0, 1, 2, 3].map(async () => {
        while (Date.now() < end) {
          try {
            await producer.send({ topic: 'bench-good', acks: -1, messages: Array.from({ length: 100 }, () => ({ value })) });
            records += 100;
          } catch {
            errors++;
          }
        }
      }));
      const s = (Date.now() - start) / 1000;
      return { produceMBps: (records * 1024) / s / 1e6, consumeMBps: ((consumed - consumedBefore) * 1024) / s / 1e6 };
    };

    console.log(`abuse benchmark: kafkajs producer (acks=all, 1 KiB records, 100 per send, 4 in flight) + consumer group, ${rounds} rounds of ${seconds} s quiet then under abuse`);
    await measure(); // warm-up
    const quiet: number[] = [];
    const abused: number[] = [];
    const quietC: number[] = [];
    const abusedC: number[] = [];
    let peak = 0;
    for (let r = 0; r < rounds; r++) {
      const q = await measure();
      quiet.push(q.produceMBps);
      quietC.push(q.consumeMBps);
      const abuse = await startAbuse({ port: agent.port, topic: 'bench-hostile', bigTopic: 'bench-big', floodAddress: '127.0.0.2', loop: true }, (port) => RawClient.connect(port));
      const sampler = setInterval(() => (peak = Math.max(peak, rssOf(agent.pid, (p) => readFileSync(p, 'utf8')) ?? 0)), 50);
      const a = await measure();
      clearInterval(sampler);
      await abuse.stop();
      abused.push(a.produceMBps);
      abusedC.push(a.consumeMBps);
      const refused = abuse.tally.produced.filter((p) => p.errorCode !== 0).length;
      console.log(`round ${r + 1}: quiet ${q.produceMBps.toFixed(1)} MB/s produced, ${q.consumeMBps.toFixed(1)} MB/s consumed; under abuse ${a.produceMBps.toFixed(1)} / ${a.consumeMBps.toFixed(1)} MB/s (hostile produce requests ${abuse.tally.produced.length}, refused ${refused}; fetches ${abuse.tally.fetchBytes.length})`);
    }
    await consumer.disconnect();
    await producer.disconnect();
    console.log(`median produce: quiet ${median(quiet).toFixed(1)} MB/s, under abuse ${median(abused).toFixed(1)} MB/s (${((median(abused) / median(quiet)) * 100).toFixed(0)} %)`);
    console.log(`median consume: quiet ${median(quietC).toFixed(1)} MB/s, under abuse ${median(abusedC).toFixed(1)} MB/s`);
    console.log(`agent peak RSS under abuse: ${(peak / MiB).toFixed(0)} MiB; good-client errors: ${errors}`);
  } finally {
    c.close();
    await agent.stop('SIGKILL');
  }
}
