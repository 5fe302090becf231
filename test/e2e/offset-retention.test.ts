// Committed offsets expire as in Kafka (offsets.retention.minutes), on both configurations, with kafkajs:
// a group whose consumers have left loses its offsets once Empty for the retention and disappears from
// ListGroups, so a new consumer of it starts from the reset position; a group with a live member keeps
// its offsets however old they are.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const RETENTION_MS = 3000;

for (const backendName of BACKENDS) {
  describe(`offset retention (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, args: ['--offsets-retention-ms', String(RETENTION_MS), '--offsets-retention-check-interval-ms', '300'] });
      kafka = new Kafka({ clientId: 'e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    /** Consumes `n` records in `groupId` and returns their values; commits as the consumer is told. */
    async function consume(groupId: string, n: number, opts: { autoCommit: boolean }): Promise<{ values: string[]; consumer: kafkajs.Consumer }> {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'expiring', fromBeginning: true });
      const values: string[] = [];
      await consumer.run({ autoCommit: opts.autoCommit, eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
      await waitFor(`${groupId} to consume ${n} records`, () => values.length >= n);
      return { values, consumer };
    }

    test('an empty group\'s offsets expire and the group goes; a live group keeps its offsets', async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: [{ topic: 'expiring', numPartitions: 2 }] });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic: 'expiring', acks: -1, messages: ['a', 'b', 'c', 'd'].map((value, i) => ({ value, partition: i % 2 })) });
        await producer.disconnect();

        const live = await consume('live', 4, { autoCommit: false });
        await live.consumer.commitOffsets([0, 1].map((partition) => ({ topic: 'expiring', partition, offset: '2' })));
        const gone = await consume('gone', 4, { autoCommit: true });
        await gone.consumer.disconnect(); // commits, leaves: the group is Empty from now
        const offsetsOf = async (groupId: string) => (await admin.fetchOffsets({ groupId, topics: ['expiring'] }))[0].partitions.map((p) => p.offset).sort();
        assert.deepEqual(await offsetsOf('gone'), ['2', '2']);

        const leftAt = Date.now();
        await waitFor('the empty group\'s offsets to expire', async () => (await offsetsOf('gone')).every((o) => o === '-1'), 30_000);
        assert.ok(Date.now() - leftAt >= RETENTION_MS - 500, `expired after ${Date.now() - leftAt} ms, retention ${RETENTION_MS} ms`);
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
        assert.deepEqual(groups, ['live']);
        // The live group's commit is older than the retention by now, and it stays.
        assert.deepEqual(await offsetsOf('live'), ['2', '2']);

        // A new consumer of the expired group starts over from the beginning (its reset position).
        const again = await consume('gone', 4, { autoCommit: true });
        assert.deepEqual(again.values.sort(), ['a', 'b', 'c', 'd']);
        await again.consumer.disconnect();
        await live.consumer.disconnect();
      } finally {
        await admin.disconnect();
      }
    });
  });
}
