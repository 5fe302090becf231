// No client can hurt the agent (embedded defaults): a well-behaved kafkajs producer and consumer group
// work while a hostile client sends decompression bombs, batches whose headers lie, 1,000 slow
// connections, 50 connections each holding 90 % of a 100 MiB frame, a Fetch with max_bytes 2^31-1 on
// a 1 GiB partition and garbage frames. The agent stays up with its RSS under RSS_BOUND, the good
// clients see no error and lose nothing, every hostile request gets a Kafka error or a closed
// connection, and lying headers never reach the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { RawClient } from '../helpers/raw-client.js';
import { rssOf, startAbuse } from '../helpers/hostile.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const MiB = 1024 * 1024;
/** Documented in the README: queued.max.request.bytes (256 MiB) + caches + the embedded baseline. */
const RSS_BOUND = 1536 * MiB;
const RECEIVE_DEADLINE_MS = 5000;
const FETCH_CAP = 57_671_680;

describe('abuse: a hostile client next to well-behaved ones (embedded)', () => {
  let agent: AgentHandle;
  let c: RawClient;
  let maxRss = 0;
  let sampler: NodeJS.Timeout | undefined;

  before(async () => {
    agent = await startAgent({ args: ['--request-receive-timeout-ms', String(RECEIVE_DEADLINE_MS)] });
    c = await RawClient.connect(agent.port);
    const create = async (name: string, numPartitions: number, configs: Array<{ name: string; value: string }> = []) => {
      const r = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs }], timeoutMs: 10_000, validateOnly: false });
      assert.equal(r.topics[0].errorCode, ErrorCode.NONE);
    };
    await create('abuse-good', 4);
    await create('abuse-hostile', 1);
    await create('abuse-big', 1, [{ name: 'max.message.bytes', value: String(17 * MiB) }, { name: 'retention.ms', value: '-1' }]);
    // The 1 GiB partition: 64 batches of 16 MiB, four in flight.
    const value = Buffer.alloc(16 * MiB - 200, 'streamhouse ');
    const batch = buildRecordBatchSync({ records: [{ value }] });
    for (let i = 0; i < 64; i += 4) {
      const rs = await Promise.all([0, 1, 2, 3].map(() => c.request(ApiKey.Produce, 9, { transactionalId: null, acks: 1, timeoutMs: 30_000, topicData: [{ name: 'abuse-big', partitionData: [{ index: 0, records: batch }] }] })));
      for (const r of rs) assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    }
    sampler = setInterval(() => {
      const rss = rssOf(agent.pid, (p) => readFileSync(p, 'utf8'));
      if (rss !== undefined && rss > maxRss) maxRss = rss;
    }, 50);
  });

  after(async () => {
    clearInterval(sampler);
    c?.close();
    await agent?.stop('SIGKILL');
  });

  test('good clients lose nothing, hostile requests are refused, memory stays bounded', async () => {
    const kafka = new Kafka({ clientId: 'good', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const errors: string[] = [];
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: 'abuse-good-group', sessionTimeout: 30_000, retry: { retries: 0 } });
    consumer.on(consumer.events.CRASH, (e) => errors.push(`consumer crash: ${e.payload.error.message}`));
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: 'abuse-good', fromBeginning: true });
    const seen = new Map<string, number>();
    await consumer.run({ eachMessage: async ({ message }) => void seen.set(message.value!.toString(), (seen.get(message.value!.toString()) ?? 0) + 1) });

    const abuse = await startAbuse(
      { port: agent.port, topic: 'abuse-hostile', bigTopic: 'abuse-big', slowConnections: 1000, partialFrames: 50, partialFrameBytes: 100 * MiB, garbageFrames: 100, floodAddress: '127.0.0.2' },
      (port) => RawClient.connect(port),
    );

    // The good producer: 100 sends of 30 records (acks=all) while the attacks run.
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const messages = Array.from({ length: 30 }, (_, j) => ({ key: `k${j}`, value: `good-${i}-${j}` }));
      try {
        await producer.send({ topic: 'abuse-good', acks: -1, messages });
        sent.push(...messages.map((m) => m.value));
      } catch (err) {
        errors.push(`producer: ${(err as Error).message}`);
      }
    }
    await abuse.done;
    // The connection floods are closed by the receive deadline, partial frames included.
    await waitFor('the broker closing slow and half-sent connections', () => abuse.slowClosed() === 1000 && abuse.partialClosed() === 50, RECEIVE_DEADLINE_MS * 4);
    await waitFor('the good consumer reading everything', () => seen.size === sent.length, 30_000);
    await abuse.stop();
    await consumer.disconnect();
    await producer.disconnect();

    assert.deepEqual(errors, []);
    assert.equal(sent.length, 3000);
    assert.deepEqual([...seen.keys()].sort(), [...sent].sort());
    assert.ok([...seen.values()].every((n) => n === 1), 'a good record was delivered twice');

    const t = abuse.tally;
    // Bombs and records that do not match their header are refused; lying timestamps are either
    // refused or rewritten from the records (Kafka's LogValidator), never stored as sent.
    for (const p of t.produced) {
      if (p.what.startsWith('maxTimestamp')) continue;
      assert.notEqual(p.errorCode, ErrorCode.NONE, `${p.what} was accepted`);
    }
    const lo = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'abuse-hostile', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3 }] }] });
    const maxTs = lo.topics[0].partitions[0];
    if ((maxTs.offset ?? -1) >= 0) assert.ok(Math.abs((maxTs.timestamp ?? 0) - Date.now()) < 3_600_000, `stored max timestamp ${maxTs.timestamp}`);
    assert.ok(t.listOffsets.every((l) => l.errorCode === ErrorCode.NONE), JSON.stringify(t.listOffsets));
    assert.equal(t.fetchBytes.length, 1);
    assert.ok(t.fetchBytes[0] > 0 && t.fetchBytes[0] <= FETCH_CAP, `fetch returned ${t.fetchBytes[0]} bytes`);
    assert.equal(t.garbage.closed + t.garbage.answered, 100);

    // The agent is up and serves.
    const md = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.ok(md.topics.some((x) => x.name === 'abuse-good'));
    assert.ok(maxRss > 0 && maxRss < RSS_BOUND, `agent RSS peaked at ${(maxRss / MiB).toFixed(0)} MiB`);
    console.log(`abuse: agent RSS peak ${(maxRss / MiB).toFixed(0)} MiB; hostile produce answers ${JSON.stringify(t.produced.map((p) => [p.what, p.errorCode]))}`);
  });
});
