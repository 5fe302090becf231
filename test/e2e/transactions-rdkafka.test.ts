// node-rdkafka (current librdkafka) transactions on both configurations (issue 16): an aborted
// transaction, then a consume-transform-produce loop (read_committed consumer, offsets sent in each
// transaction); a read_committed reader sees every input once in the output and none of the aborted
// records, and the group's offsets are at the input's end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/node22-shims.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { Kafka, committed, connectConsumer, consumeRecords, createAdmin, createTopic, disconnect, type KafkaConsumer, type Producer, type TopicPartitionOffset } from '../helpers/rdkafka.js';

const PARTITIONS = 3;
const RECORDS = 60;

function call(fn: (cb: (err: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err as Error) : resolve())));
}

for (const backendName of BACKENDS) {
  describe(`node-rdkafka transactions (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      const admin = createAdmin({ 'bootstrap.servers': agent.bootstrap });
      for (const topic of ['rd-in', 'rd-out']) await createTopic(admin, { topic, num_partitions: PARTITIONS, replication_factor: 1 });
      await disconnect(admin);
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    test('consume-transform-produce: every input once in the read_committed output, aborted records never', async () => {
      const seed = new Kafka.HighLevelProducer({ 'bootstrap.servers': agent.bootstrap, 'enable.idempotence': true });
      await call((cb) => seed.connect({}, (err) => cb(err)));
      for (let i = 0; i < RECORDS; i++) await call((cb) => seed.produce('rd-in', i % PARTITIONS, Buffer.from(`in-${i}`), null, Date.now(), (err) => cb(err)));
      await call((cb) => seed.disconnect(() => cb(null)));

      const producer: Producer = new Kafka.Producer({ 'bootstrap.servers': agent.bootstrap, 'transactional.id': `rd-eos-${backendName}`, 'linger.ms': 5, dr_cb: false });
      await call((cb) => producer.connect({}, (err) => cb(err)));
      producer.setPollInterval(10);
      const consumer: KafkaConsumer = await connectConsumer({ 'bootstrap.servers': agent.bootstrap, 'group.id': 'rd-eos', 'isolation.level': 'read_committed', 'enable.auto.commit': false }, { 'auto.offset.reset': 'earliest' });
      try {
        await call((cb) => producer.initTransactions(30_000, cb));
        // An aborted transaction first.
        await call((cb) => producer.beginTransaction(cb));
        for (let i = 0; i < 5; i++) producer.produce('rd-out', i % PARTITIONS, Buffer.from(`aborted-${i}`));
        await call((cb) => producer.abortTransaction(30_000, cb));

        consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'rd-in', partition, offset: 0 })));
        let done = 0;
        const next = new Map<number, number>();
        while (done < RECORDS) {
          const batch = await consumeRecords(consumer, 15, 5_000);
          if (batch.length === 0) continue;
          await call((cb) => producer.beginTransaction(cb));
          for (const m of batch) {
            producer.produce('rd-out', m.partition, Buffer.from(`out-${m.value!.toString()}`));
            next.set(m.partition, m.offset + 1);
          }
          const offsets: TopicPartitionOffset[] = [...next].map(([partition, offset]) => ({ topic: 'rd-in', partition, offset }));
          await call((cb) => producer.sendOffsetsToTransaction(offsets, consumer, 30_000, cb));
          await call((cb) => producer.commitTransaction(30_000, cb));
          done += batch.length;
        }
        const got = await committed(consumer, Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'rd-in', partition })));
        assert.equal(got.reduce((n, tp) => n + (tp.offset ?? 0), 0), RECORDS);
      } finally {
        await disconnect(consumer);
        await call((cb) => producer.disconnect(() => cb(null)));
      }
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', 'rd-out', '-o', 'beginning', '-e', '-J', '-X', 'isolation.level=read_committed']);
      assert.equal(r.code, 0, r.stderr);
      const values = parseJsonLines(r.stdout).map((m) => m.payload as string).sort();
      assert.deepEqual(values, Array.from({ length: RECORDS }, (_, i) => `out-in-${i}`).sort());
    });
  });
}
