// Topic changes reach every agent: three agents on one PostgreSQL and one S3 server. A topic whose
// partitions other agents lead, with their tail caches, writer buffers and segment rows warm, is
// deleted through a third agent; from then on no agent serves it (measured: the time from the
// DeleteTopics answer until every agent refuses it). Re-created under the same name, it starts empty
// everywhere: the agent that led the old partition 0 leads the new one at offset 0, and a kafkajs
// consumer sees only the new records.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync, readBatchRecords, splitBatches } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { findPostgresBinaries } from '../helpers/postgres.js';
import { RawClient } from '../helpers/raw-client.js';

const { Kafka, logLevel } = kafkajs;

const ENV = { STREAMHOUSE_AGENT_HEARTBEAT_MS: '300', STREAMHOUSE_LEASE_TTL_MS: '6000' };
const TOPIC = 'recycled';

async function produce(c: RawClient, partition: number, values: string[]) {
  const records = buildRecordBatchSync({ records: values.map((v) => ({ value: v, timestamp: Date.now() })) });
  const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] });
  return res.responses[0].partitionResponses[0];
}

/** Fetch v12 from offset 0: the error code and the records as [offset, value]. */
async function fetchFrom0(c: RawClient, partition: number): Promise<{ errorCode: number; highWatermark: number; records: Array<[number, string]> }> {
  const res = await c.request(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 10_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 10_000_000 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = res.responses[0].partitions[0];
  const records: Array<[number, string]> = [];
  for (const b of splitBatches(p.records ?? Buffer.alloc(0))) for (const r of await readBatchRecords(b)) records.push([r.offset, r.value?.toString() ?? '']);
  return { errorCode: p.errorCode, highWatermark: Number(p.highWatermark), records };
}

async function latestOffset(c: RawClient, partition: number): Promise<{ errorCode: number; offset: number }> {
  const res = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: TOPIC, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1 }] }] });
  const p = res.topics[0].partitions[0];
  return { errorCode: p.errorCode, offset: Number(p.offset) };
}

const skip = findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;

describe('topic changes reach every agent (three agents, PostgreSQL + S3)', { skip }, () => {
  let backend: Backend;
  let agents: AgentHandle[] = [];
  let clients: RawClient[] = [];

  before(async () => {
    backend = await startBackend('postgres+s3');
    agents = await Promise.all([0, 1, 2].map(() => startAgent({ env: { ...backend.env, ...ENV } })));
    clients = await Promise.all(agents.map((a) => RawClient.connect(a.port)));
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(agents.map((a) => a.stop()));
    await backend?.stop();
  });

  test('after DeleteTopics returns no agent serves the old topic; re-created, it starts empty on every agent', async () => {
    // Placement decides the leaders: create the topic, then call A the agent leading neither
    // partition, B the leader of partition 0 and C that of partition 1.
    {
      const setup = new Kafka({ clientId: 'topic-changes-setup', brokers: [agents[0]!.bootstrap], logLevel: logLevel.NOTHING }).admin();
      await setup.connect();
      try {
        assert.equal(await setup.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: false }), true);
      } finally {
        await setup.disconnect();
      }
      let leaderPorts: number[] = [];
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        const views = await Promise.all(clients.map((x) => x.request(ApiKey.Metadata, 12, { topics: [{ name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false })));
        const ports = views.map((md) => [0, 1].map((p) => md.brokers.find((br) => br.nodeId === md.topics[0]?.partitions.find((x) => x.partitionIndex === p)?.leaderId)?.port ?? -1));
        if (ports.every((v) => v[0] === ports[0]![0] && v[1] === ports[0]![1]) && ports[0]![0] !== ports[0]![1] && ports[0]!.every((x) => agents.some((ag) => ag.port === x))) {
          leaderPorts = ports[0]!;
          break;
        }
      }
      assert.equal(leaderPorts.length, 2, 'the agents agree on two different leaders');
      const order = [agents.findIndex((ag) => !leaderPorts.includes(ag.port)), ...leaderPorts.map((port) => agents.findIndex((ag) => ag.port === port))];
      agents = order.map((i) => agents[i]!);
      clients = order.map((i) => clients[i]!);
    }
    const [a, b, c] = clients as [RawClient, RawClient, RawClient];
    const admin = new Kafka({ clientId: 'topic-changes-admin', brokers: [agents[0]!.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // B leads partition 0 and C partition 1; both have the records in their tail caches.
      assert.equal((await produce(b, 0, ['old-0', 'old-1', 'old-2'])).errorCode, ErrorCode.NONE);
      assert.equal((await produce(c, 1, ['old-p1'])).errorCode, ErrorCode.NONE);
      assert.deepEqual((await fetchFrom0(b, 0)).records.map((r) => r[1]), ['old-0', 'old-1', 'old-2']);
      assert.deepEqual((await fetchFrom0(c, 1)).records.map((r) => r[1]), ['old-p1']);
      assert.equal((await produce(a, 0, ['not-the-leader'])).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // A consumer of B waits at the end of partition 0 (long poll, 20 s).
      const poller = await RawClient.connect(agents[1]!.port);
      after(() => poller.close());
      const longPoll = poller
        .request(ApiKey.Fetch, 12, {
          replicaId: -1, maxWaitMs: 20_000, minBytes: 1, maxBytes: 1_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 3, logStartOffset: -1, partitionMaxBytes: 1_000_000 }] }],
          forgottenTopicsData: [], rackId: '',
        })
        .then((res) => ({ at: performance.now(), errorCode: res.responses[0].partitions[0].errorCode, records: res.responses[0].partitions[0].records?.length ?? 0 }));
      await new Promise((r) => setTimeout(r, 200));

      // Delete through A (it answers once B and C confirmed they dropped the topic), then ask every
      // agent as fast as it answers until it refuses the topic.
      const asked = performance.now();
      const del = await a.request(ApiKey.DeleteTopics, 4, { topicNames: [TOPIC], timeoutMs: 10_000 });
      const deletedAt = performance.now();
      const confirmLine = agents[0]!.output().split('\n').find((l) => l.includes('topic change confirmed by every live agent'));
      console.log(`# DeleteTopics took ${(deletedAt - asked).toFixed(1)} ms, of which waiting for B and C to confirm: ${confirmLine?.match(/"ms":([\d.]+)/)?.[1] ?? '?'} ms`);
      assert.equal(del.responses[0].errorCode, ErrorCode.NONE);
      const served: string[] = [];
      const polls = [0, 0, 0];
      const refusedAfterMs = await Promise.all(
        clients.map(async (client, i) => {
          for (;;) {
            polls[i]!++;
            const [f0, f1, l0] = await Promise.all([fetchFrom0(client, 0), fetchFrom0(client, 1), latestOffset(client, 0)]);
            const ms = performance.now() - deletedAt;
            if (f0.records.length + f1.records.length > 0) served.push(`agent ${i} at ${ms.toFixed(1)} ms: ${JSON.stringify([...f0.records, ...f1.records])}`);
            const refused = [f0.errorCode, f1.errorCode, l0.errorCode].every((e) => e === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            if (refused) return ms;
            assert.ok(ms < 5000, `agent ${i} still answers ${JSON.stringify([f0.errorCode, f1.errorCode, l0.errorCode])} after ${ms} ms`);
          }
        }),
      );
      const worst = Math.max(...refusedAfterMs);
      const polled = await longPoll;
      assert.deepEqual([polled.errorCode, polled.records], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0], 'the long poll on B ends with the topic');
      console.log(`# B's long poll on the topic answered ${(polled.at - deletedAt).toFixed(1)} ms after DeleteTopics returned (negative: before)`);
      assert.ok(polled.at - deletedAt < 1000);
      // Each figure is an upper bound: it ends with the answer to the first refused poll (three requests).
      console.log(`# DeleteTopics answered → agent refuses the topic: ${refusedAfterMs.map((ms, i) => `${'ABC'[i]} ${ms.toFixed(1)} ms (poll ${polls[i]})`).join(', ')}`);
      assert.deepEqual(served, [], 'no agent served the deleted topic once DeleteTopics had answered');
      assert.ok(worst < 1000, `every agent refuses the deleted topic within 1 s (took ${worst.toFixed(1)} ms)`);
      assert.equal((await produce(b, 0, ['into-the-void'])).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

      // Re-created under the same name: empty everywhere. B, which led the old partition 0 and cached
      // its records, takes the new one at offset 0.
      assert.equal(await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }], waitForLeaders: false }), true);
      const first = await produce(b, 0, ['new-0']);
      assert.deepEqual([first.errorCode, first.baseOffset], [ErrorCode.NONE, 0]);
      const producer = new Kafka({ clientId: 'topic-changes-producer', brokers: agents.map((x) => x.bootstrap), logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: [{ value: 'new-1', partition: 0 }, { value: 'new-p1-0', partition: 1 }, { value: 'new-p1-1', partition: 1 }] });
      } finally {
        await producer.disconnect();
      }
      const expected: Record<number, Array<[number, string]>> = { 0: [[0, 'new-0'], [1, 'new-1']], 1: [[0, 'new-p1-0'], [1, 'new-p1-1']] };
      for (const [i, client] of clients.entries()) {
        for (const partition of [0, 1]) {
          const f = await fetchFrom0(client, partition);
          if (f.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) continue; // another agent leads it: asked there
          assert.equal(f.errorCode, ErrorCode.NONE, `agent ${i} partition ${partition}`);
          assert.deepEqual(f.records, expected[partition], `agent ${i} partition ${partition}: only the new records, from offset 0`);
          assert.equal(f.highWatermark, 2);
        }
      }
      // Every agent's clients read the same: a kafkajs consumer bootstrapped from each agent alone.
      for (const [i, agent] of agents.entries()) {
        const consumer = new Kafka({ clientId: `topic-changes-consumer-${i}`, brokers: [agent.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: `recycled-readers-${i}` });
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
          const seen: Array<[number, number, string]> = [];
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`consumer via agent ${i} saw only ${JSON.stringify(seen)}`)), 30_000);
            consumer
              .run({
                eachMessage: async ({ partition, message }) => {
                  seen.push([partition, Number(message.offset), message.value?.toString() ?? '']);
                  if (seen.length >= 4) {
                    clearTimeout(timer);
                    resolve();
                  }
                },
              })
              .catch(reject);
          });
          const sorted = seen.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
          assert.deepEqual(sorted, [[0, 0, 'new-0'], [0, 1, 'new-1'], [1, 0, 'new-p1-0'], [1, 1, 'new-p1-1']], `consumer via agent ${i}`);
        } finally {
          await consumer.disconnect();
        }
      }
    } finally {
      await admin.disconnect();
    }
  });
});
