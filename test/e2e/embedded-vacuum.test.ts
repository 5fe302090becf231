// The agent vacuums its embedded database (metadata/maintenance.ts), end to end with kafkajs: under a
// produce load with merging on, the embedded agent vacuums the segment rows the flushes and swaps left
// dead, and every record reads back; an agent on PostgreSQL (autovacuum) runs no such pass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const N = 300;

interface Vacuumed {
  table: string;
  reason: string;
  deadRows: number;
}

/** The tables of every "embedded database vacuumed" log line so far. */
function vacuumed(output: string): Vacuumed[] {
  const out: Vacuumed[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('embedded database vacuumed')) continue;
    out.push(...((JSON.parse(line) as { tables: Vacuumed[] }).tables));
  }
  return out;
}

for (const backendName of BACKENDS) {
  describe(`embedded database maintenance (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let kafka: kafkajs.Kafka;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({
        env: backend.env,
        args: ['--embedded-vacuum-interval-ms', '300', '--merge-interval-ms', '300', '--merge-target-bytes', '65536', '--merge-max-age-ms', '1000'],
      });
      kafka = new Kafka({ clientId: 'vacuum-e2e', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    test(backendName === 'embedded' ? 'dead segment rows left by flushes and merges are vacuumed; every record reads back' : 'no embedded maintenance on PostgreSQL', async () => {
      const topic = 'vacuumed';
      const admin = kafka.admin();
      await admin.connect();
      const producer = kafka.producer();
      await producer.connect();
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
        // One send per flush: each leaves a segment row per partition, which the merger then replaces.
        for (let i = 0; i < N; i++) await producer.send({ topic, acks: -1, messages: [{ key: `k${i}`, value: `v${i}`, partition: i % 2 }] });
        if (backendName === 'embedded') {
          const pass = await waitFor('a vacuum of segments with dead rows', () => vacuumed(agent.output()).find((t) => t.table === 'segments' && t.reason === 'dead' && t.deadRows > 0));
          assert.ok(pass.deadRows > 0);
        }
        const consumer = kafka.consumer({ groupId: 'vacuum-reader' });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const values = new Set<string>();
        await consumer.run({ eachMessage: async ({ message }) => void values.add(message.value!.toString()) });
        await waitFor(`all ${N} records`, () => values.size >= N);
        await consumer.disconnect();
        assert.deepEqual([...values].sort(), Array.from({ length: N }, (_, i) => `v${i}`).sort());
        // The first pass after start covers every table holding data, 300 ms in: long past on either backend.
        if (backendName === 'embedded') assert.ok(vacuumed(agent.output()).some((t) => t.reason === 'start'));
        else assert.deepEqual(vacuumed(agent.output()), []);
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
    });
  });
}
