// Stateless agents sharing one PostgreSQL and one bucket: each partition is led by the lease holder,
// other agents answer NOT_LEADER_OR_FOLLOWER and point clients at it; when the leader dies, another
// agent takes the lease over after it expires and serves everything that was acked. Also: PostgreSQL
// going away gives retriable errors and no ack, and service resumes when it is back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode, isRetriable } from '../../protocol/index.js';
import { buildRecordBatchSync, readBatchHeader, splitBatches } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

const LEASE_ENV = { STREAMHOUSE_LEASE_TTL_MS: '3000', STREAMHOUSE_AGENT_HEARTBEAT_MS: '300' };

async function produce(c: RawClient, topic: string, partition: number, values: string[]) {
  const records = buildRecordBatchSync({ records: values.map((v) => ({ value: v, timestamp: Date.now() })) });
  const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return res.responses[0].partitionResponses[0];
}

async function fetchAll(c: RawClient, topic: string, partition: number) {
  const res = await c.request(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 10_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 10_000_000 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  return res.responses[0].partitions[0];
}

describe('several agents on one PostgreSQL and one bucket', () => {
  let backend: Backend;
  let a: AgentHandle;
  let b: AgentHandle;

  before(async () => {
    backend = await startBackend('postgres+s3');
    a = await startAgent({ env: { ...backend.env, ...LEASE_ENV } });
    b = await startAgent({ env: { ...backend.env, ...LEASE_ENV } });
  });

  after(async () => {
    await a?.stop('SIGKILL');
    await b?.stop();
    await backend?.stop();
  });

  test('topic changes made through one agent are seen through the other at once, not after its cache TTL', async () => {
    const admin = (port: number) => new Kafka({ clientId: `admin-${port}`, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }).admin();
    const adminA = admin(a.port);
    const adminB = admin(b.port);
    await Promise.all([adminA.connect(), adminB.connect()]);
    try {
      const partitionsSeenByB = async () => {
        const cb = await RawClient.connect(b.port);
        try {
          const md = await cb.request(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'changing' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
          const t = md.topics[0];
          return t.errorCode === ErrorCode.NONE ? t.partitions.length : -t.errorCode;
        } finally {
          cb.close();
        }
      };
      assert.equal(await adminA.createTopics({ topics: [{ topic: 'changing', numPartitions: 1 }], waitForLeaders: false }), true);
      assert.equal(await partitionsSeenByB(), 1); // B now caches the topic (TTL 30 s)
      await adminA.createPartitions({ topicPartitions: [{ topic: 'changing', count: 3 }] });
      await waitFor('B to see the new partitions', async () => (await partitionsSeenByB()) === 3, 3000);
      const fromB = await adminB.fetchTopicMetadata({ topics: ['changing'] });
      assert.equal(fromB.topics[0].partitions.length, 3);
      await adminA.deleteTopics({ topics: ['changing'] });
      await waitFor('B to forget the deleted topic', async () => (await partitionsSeenByB()) === -ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3000);
    } finally {
      await Promise.all([adminA.disconnect(), adminB.disconnect()]);
    }
  });

  test('one leader per partition; the other agent redirects; failover after the leader dies keeps every acked record', async () => {
    const ca = await RawClient.connect(a.port);
    const cb = await RawClient.connect(b.port);
    const created = await ca.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'shared', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);

    const first = await produce(ca, 'shared', 0, ['a0', 'a1', 'a2']);
    assert.deepEqual([first.errorCode, first.baseOffset], [ErrorCode.NONE, 0]);

    // B does not lead partition 0: it says so, and Metadata from B names A as the leader.
    assert.equal((await produce(cb, 'shared', 0, ['nope'])).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const md = await cb.request(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'shared' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    assert.equal(md.brokers.length, 2);
    const nodeA = md.topics[0].partitions.find((p) => p.partitionIndex === 0)!.leaderId;
    const brokerA = md.brokers.find((x) => x.nodeId === nodeA)!;
    assert.equal(brokerA.port, a.port);
    // B can lead the other partition.
    assert.equal((await produce(cb, 'shared', 1, ['b0'])).errorCode, ErrorCode.NONE);

    // A dies without releasing anything; B takes partition 0 over once A's lease has expired.
    ca.close();
    await a.stop('SIGKILL');
    const taken = await waitFor('B to lead partition 0', async () => {
      const r = await produce(cb, 'shared', 0, ['b-after']);
      return r.errorCode === ErrorCode.NONE ? r : undefined;
    }, 20_000);
    assert.equal(taken.baseOffset, 3);
    const f = await fetchAll(cb, 'shared', 0);
    assert.equal(f.highWatermark, 4);
    const offsets = splitBatches(f.records!).map((x) => readBatchHeader(x).baseOffset);
    assert.deepEqual(offsets, [0, 3]);
    const r = await kcat(['-b', b.bootstrap, '-C', '-t', 'shared', '-p', '0', '-o', 'beginning', '-c', '4', '-e', '-J']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseJsonLines(r.stdout).map((m) => m.payload), ['a0', 'a1', 'a2', 'b-after']);
    cb.close();
  });
});

describe('PostgreSQL outage', () => {
  let backend: Backend;
  let agent: AgentHandle;

  before(async () => {
    backend = await startBackend('postgres+s3');
    agent = await startAgent({ env: { ...backend.env, ...LEASE_ENV } });
  });

  after(async () => {
    await agent?.stop();
    await backend?.stop();
  });

  test('produce gets a retriable error and no ack while the database is down, and works again after', async () => {
    const c = await RawClient.connect(agent.port);
    await c.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'outage', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal((await produce(c, 'outage', 0, ['before'])).errorCode, ErrorCode.NONE);

    await backend.postgres!.kill();
    const during = await produce(c, 'outage', 0, ['during']);
    assert.notEqual(during.errorCode, ErrorCode.NONE);
    assert.ok(isRetriable(during.errorCode), `error ${during.errorCode} should be retriable`);

    await backend.postgres!.restart();
    const afterOutage = await waitFor('produce to succeed again', async () => {
      const r = await produce(c, 'outage', 0, ['after']);
      return r.errorCode === ErrorCode.NONE ? r : undefined;
    }, 20_000);
    const f = await fetchAll(c, 'outage', 0);
    // Exactly what was acked: 'before' at 0 and 'after' right behind it; the failed produce left nothing.
    assert.equal(afterOutage.baseOffset, 1);
    assert.equal(f.highWatermark, 2);
    c.close();
  });
});
