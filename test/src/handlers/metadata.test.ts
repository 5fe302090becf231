import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/03-metadata.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_AUTHORIZED_OPERATIONS, TOPIC_AUTHORIZED_OPERATIONS, ZERO_UUID } from '../../../src/topics.js';
import { call, fakeBroker, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

const req = (names: string[] | null, extra: Record<string, unknown> = {}) => ({
  topics: names === null ? null : names.map((name) => ({ name, topicId: ZERO_UUID })),
  allowAutoTopicCreation: true,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
  ...extra,
});

test('Metadata advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.Metadata)]);
  assert.equal(handler.minImplementedVersion, undefined);
});

test('Metadata: brokers, cluster id, lowest node id as controller, every version', async () => {
  const broker = fakeBroker({
    nodeId: 5,
    brokers: [
      { nodeId: 5, host: 'a', port: 1, rack: 'r1' },
      { nodeId: 3, host: 'b', port: 2, rack: null },
    ],
  });
  await broker.metadata.createTopic({ name: 'orders', partitionCount: 3 });
  for (const v of versionsOf(handler)) {
    const res = await call(handler, v, req(['orders']), broker);
    assert.equal(res.brokers.length, 2, `v${v}`);
    assert.equal(res.brokers[0]!.host, 'a');
    if (v >= 1) {
      assert.equal(res.controllerId, 3, `v${v}`);
      assert.equal(res.brokers[0]!.rack, 'r1');
    }
    if (v >= 2) assert.equal(res.clusterId, 'test-cluster-id');
    assert.equal(res.topics.length, 1);
    const t = res.topics[0]!;
    assert.equal(t.errorCode, ErrorCode.NONE, `v${v}`);
    assert.equal(t.name, 'orders');
    assert.equal(t.partitions.length, 3);
    assert.deepEqual(
      t.partitions.map((p) => [p.partitionIndex, p.leaderId, p.replicaNodes, p.isrNodes]),
      [0, 1, 2].map((i) => [i, 5, [5], [5]]),
    );
    if (v >= 10) assert.equal(t.topicId, (await broker.metadata.getTopic('orders'))!.topicId);
    if (v >= 5) assert.deepEqual(t.partitions[0]!.offlineReplicas, []);
  }
});

test('Metadata: leader and epoch come from ctx.broker.leaders', async () => {
  const broker = fakeBroker({ nodeId: 1, leader: (_t, p) => ({ nodeId: p % 2 === 0 ? 1 : 2, leaderEpoch: 10 + p }) });
  await broker.metadata.createTopic({ name: 't', partitionCount: 2 });
  const res = await call(handler, 9, req(['t']), broker);
  assert.deepEqual(
    res.topics[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch, p.replicaNodes]),
    [
      [1, 10, [1]],
      [2, 11, [2]],
    ],
  );
});

test('Metadata: null topics = all topics (v1+), empty list = all at v0 only', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'a', partitionCount: 1 });
  await broker.metadata.createTopic({ name: 'b', partitionCount: 2 });
  for (const v of versionsOf(handler)) {
    if (v >= 1) {
      const all = await call(handler, v, req(null), broker);
      assert.deepEqual(all.topics.map((t) => t.name).sort(), ['a', 'b'], `v${v}`);
      const none = await call(handler, v, req([]), broker);
      assert.deepEqual(none.topics, [], `v${v}`);
    } else {
      const all = await call(handler, 0, req([]), broker);
      assert.deepEqual(all.topics.map((t) => t.name).sort(), ['a', 'b']);
    }
  }
});

test('Metadata: unknown topic auto-created with num.partitions, answered NONE at once', async () => {
  const broker = fakeBroker({ config: { numPartitions: 4 } });
  const res = await call(handler, 12, req(['fresh']), broker);
  assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(res.topics[0]!.partitions.length, 4);
  assert.equal((await broker.metadata.getTopic('fresh'))?.partitionCount, 4);
  assert.notEqual(res.topics[0]!.topicId, ZERO_UUID);
});

test('Metadata: allowAutoTopicCreation=false (v4+) and auto-create disabled give UNKNOWN_TOPIC_OR_PARTITION', async () => {
  const broker = fakeBroker();
  for (const v of [4, 6, 12]) {
    const res = await call(handler, v, req(['nope'], { allowAutoTopicCreation: false }), broker);
    assert.equal(res.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `v${v}`);
    assert.equal(res.topics[0]!.name, 'nope');
  }
  // Before v4 the flag does not exist: the broker setting decides.
  const old = await call(handler, 3, req(['old-client']), broker);
  assert.equal(old.topics[0]!.errorCode, ErrorCode.NONE);
  const off = fakeBroker({ config: { autoCreateTopics: false } });
  for (const v of [0, 3, 4, 12]) {
    const res = await call(handler, v, req(['nope']), off);
    assert.equal(res.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `v${v}`);
  }
  assert.equal(off.memory!.creates, 0);
});

test('Metadata: illegal names get INVALID_TOPIC_EXCEPTION and are never created', async () => {
  const broker = fakeBroker();
  const bad = ['', '.', '..', 'a'.repeat(250), 'has space', 'ü'];
  const res = await call(handler, 12, req(bad), broker);
  assert.deepEqual(
    res.topics.map((t) => t.errorCode),
    bad.map(() => ErrorCode.INVALID_TOPIC_EXCEPTION),
  );
  assert.equal(broker.memory!.creates, 0);
  const ok = await call(handler, 12, req(['a'.repeat(249), 'A.b_c-9']), broker);
  assert.deepEqual(ok.topics.map((t) => t.errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
});

test('Metadata: concurrent auto-creates of one name make one topic and all succeed', async () => {
  const broker = fakeBroker();
  broker.memory!.createDelayMs = 20;
  const results = await Promise.all(Array.from({ length: 5 }, () => call(handler, 12, req(['race']), broker)));
  for (const r of results) assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(broker.memory!.creates, 1);
  assert.equal(new Set(results.map((r) => r.topics[0]!.topicId)).size, 1);
});

test('Metadata: a topic created elsewhere in between (TOPIC_ALREADY_EXISTS) is read back', async () => {
  const broker = fakeBroker();
  const store = broker.memory!;
  const realCreate = store.createTopic.bind(store);
  // Another agent wins the race: the row appears between our lookup and our insert.
  store.createTopic = async (input) => {
    await realCreate({ name: input.name, partitionCount: 7 });
    return realCreate(input);
  };
  const res = await call(handler, 12, req(['contended']), broker);
  assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(res.topics[0]!.partitions.length, 7);
});

test('Metadata: duplicates in the request are answered once', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'x', partitionCount: 1 });
  const res = await call(handler, 1, req(['x', 'x']), broker);
  assert.equal(res.topics.length, 1);
});

test('Metadata v12: topics by id; unknown id → UNKNOWN_TOPIC_ID with null name', async () => {
  const broker = fakeBroker();
  const t = await broker.metadata.createTopic({ name: 'by-id', partitionCount: 2 });
  const missing = '6d1c5b9e-1111-4222-8333-444455556666';
  const res = await call(handler, 12, { topics: [{ topicId: t.topicId, name: null }, { topicId: missing, name: null }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false }, broker);
  assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
  assert.equal(res.topics[0]!.name, 'by-id');
  assert.equal(res.topics[0]!.partitions.length, 2);
  assert.equal(res.topics[1]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  assert.equal(res.topics[1]!.name, null);
  assert.equal(res.topics[1]!.topicId, missing);
});

test('Metadata v10/v11: a topic id or a null name is INVALID_REQUEST for every topic', async () => {
  const broker = fakeBroker();
  for (const v of [10, 11]) {
    const res = await call(handler, v, { topics: [{ topicId: '6d1c5b9e-1111-4222-8333-444455556666', name: 'x' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, broker);
    assert.equal(res.topics[0]!.errorCode, ErrorCode.INVALID_REQUEST, `v${v}`);
    const res2 = await call(handler, v, { topics: [{ topicId: ZERO_UUID, name: null }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, broker);
    assert.equal(res2.topics[0]!.errorCode, ErrorCode.INVALID_REQUEST, `v${v}`);
    assert.equal(res2.topics[0]!.name, '');
  }
  assert.equal(broker.memory!.creates, 0);
});

test('Metadata v8+: authorized operations only when asked', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'ops', partitionCount: 1 });
  for (const v of [8, 9, 10, 11, 12]) {
    const plain = await call(handler, v, req(['ops']), broker);
    assert.equal(plain.topics[0]!.topicAuthorizedOperations, AUTHORIZED_OPERATIONS_OMITTED);
    const asked = await call(handler, v, req(['ops'], { includeTopicAuthorizedOperations: true, includeClusterAuthorizedOperations: true }), broker);
    assert.equal(asked.topics[0]!.topicAuthorizedOperations, TOPIC_AUTHORIZED_OPERATIONS);
    if (v <= 10) assert.equal(asked.clusterAuthorizedOperations, CLUSTER_AUTHORIZED_OPERATIONS);
  }
  // READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11)
  assert.equal(TOPIC_AUTHORIZED_OPERATIONS, 0b1101_1111_1000);
});

test('Metadata: errorResponse reports the code for every requested topic at every version', async () => {
  const { roundTripResponse, overTheWire, requestContext } = await import('./admin-fixtures.js');
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.Metadata, v, req(['a', 'b']));
    const res = roundTripResponse(ApiKey.Metadata, v, handler.errorResponse(body, ErrorCode.KAFKA_STORAGE_ERROR, requestContext(broker, 3, v)));
    assert.deepEqual(res.topics.map((t) => [t.name, t.errorCode]), [
      ['a', ErrorCode.KAFKA_STORAGE_ERROR],
      ['b', ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
  }
});

test('Metadata: a failing store lookup becomes that topic\'s error', async () => {
  const broker = fakeBroker();
  const { KafkaError } = await import('../../../protocol/index.js');
  broker.memory!.getTopic = async () => {
    throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'db down');
  };
  const res = await call(handler, 12, req(['x']), broker);
  assert.equal(res.topics[0]!.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
});

test('Metadata against the PGlite store: auto-create, by-id lookup, concurrent creation', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store, config: { numPartitions: 2 } });
    const results = await Promise.all([1, 2, 3].map(() => call(handler, 12, req(['pg-topic']), broker)));
    for (const r of results) assert.equal(r.topics[0]!.errorCode, ErrorCode.NONE);
    const id = results[0]!.topics[0]!.topicId!;
    const byId = await call(handler, 12, { topics: [{ topicId: id, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, broker);
    assert.equal(byId.topics[0]!.name, 'pg-topic');
    assert.equal(byId.topics[0]!.partitions.length, 2);
  });
});
