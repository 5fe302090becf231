import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/19-create-topics.js';
import { ConfigSource, TOPIC_CONFIGS, ZERO_UUID } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

interface TopicSpec {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  assignments?: Array<{ partitionIndex: number; brokerIds: number[] }>;
  configs?: Array<{ name: string; value: string | null }>;
}
const topic = (t: TopicSpec) => ({ numPartitions: -1, replicationFactor: -1, assignments: [], configs: [], ...t });
const req = (topics: TopicSpec[], validateOnly = false) => ({ topics: topics.map(topic), timeoutMs: 30000, validateOnly });

test('CreateTopics advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.CreateTopics)]);
});

test('CreateTopics creates at every version; v5+ returns id, counts and every config', async () => {
  for (const v of versionsOf(handler)) {
    const broker = fakeBroker({ config: { numPartitions: 2 } });
    const res = await call(handler, v, req([{ name: 'a', numPartitions: 3, replicationFactor: 3 }, { name: 'b' }]), broker);
    assert.deepEqual(res.topics.map((t) => [t.name, t.errorCode]), [
      ['a', ErrorCode.NONE],
      ['b', ErrorCode.NONE],
    ], `v${v}`);
    assert.equal((await broker.metadata.getTopic('a'))!.partitionCount, 3);
    assert.equal((await broker.metadata.getTopic('b'))!.partitionCount, 2, 'numPartitions -1 = num.partitions');
    if (v >= 1) assert.equal(res.topics[0]!.errorMessage, null);
    if (v >= 5) {
      assert.equal(res.topics[0]!.numPartitions, 3);
      assert.equal(res.topics[0]!.replicationFactor, 3, 'requested RF is echoed');
      assert.equal(res.topics[1]!.replicationFactor, 1, 'RF -1 = default.replication.factor');
      assert.equal(res.topics[0]!.configs!.length, TOPIC_CONFIGS.size);
      assert.ok(res.topics[0]!.configs!.every((c) => c.configSource === ConfigSource.DEFAULT_CONFIG && !c.readOnly && !c.isSensitive));
    }
    if (v >= 7) assert.equal(res.topics[0]!.topicId, (await broker.metadata.getTopic('a'))!.topicId);
  }
});

test('CreateTopics stores canonical configs and retention.ms in the column', async () => {
  const broker = fakeBroker();
  const res = await call(
    handler,
    7,
    req([
      {
        name: 'c',
        numPartitions: 1,
        configs: [
          { name: 'retention.ms', value: ' 3600000 ' },
          { name: 'cleanup.policy', value: 'compact, delete' },
          { name: 'preallocate', value: 'TRUE' },
        ],
      },
    ]),
    broker,
  );
  assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
  const t = (await broker.metadata.getTopic('c'))!;
  assert.deepEqual(t.config, { 'cleanup.policy': 'compact,delete', preallocate: 'true', 'retention.ms': '3600000' });
  assert.equal(t.retentionMs, 3600000);
  const described = Object.fromEntries(res.topics[0]!.configs!.map((c) => [c.name, [c.value, c.configSource]]));
  assert.deepEqual(described['retention.ms'], ['3600000', ConfigSource.DYNAMIC_TOPIC_CONFIG]);
  assert.deepEqual(described['segment.bytes'], ['1073741824', ConfigSource.DEFAULT_CONFIG]);
});

test('CreateTopics: name, partitions, replication factor and config errors, per topic', async () => {
  const broker = fakeBroker();
  const res = await call(
    handler,
    4,
    req([
      { name: 'bad name' },
      { name: 'zero', numPartitions: 0 },
      { name: 'neg', numPartitions: -2 },
      { name: 'rf0', replicationFactor: 0 },
      { name: 'rfneg', replicationFactor: -5 },
      { name: 'unknown-config', configs: [{ name: 'no.such.config', value: '1' }] },
      { name: 'bad-value', configs: [{ name: 'retention.ms', value: 'soon' }] },
      { name: 'bad-policy', configs: [{ name: 'cleanup.policy', value: 'compact,shred' }] },
      { name: 'null-config', configs: [{ name: 'retention.ms', value: null }] },
      { name: 'too-many', numPartitions: 100_001 },
      { name: 'ok' },
    ]),
    broker,
  );
  const codes = Object.fromEntries(res.topics.map((t) => [t.name, t.errorCode]));
  assert.deepEqual(codes, {
    'bad name': ErrorCode.INVALID_TOPIC_EXCEPTION,
    zero: ErrorCode.INVALID_PARTITIONS,
    neg: ErrorCode.INVALID_PARTITIONS,
    rf0: ErrorCode.INVALID_REPLICATION_FACTOR,
    rfneg: ErrorCode.INVALID_REPLICATION_FACTOR,
    'unknown-config': ErrorCode.INVALID_CONFIG,
    'bad-value': ErrorCode.INVALID_CONFIG,
    'bad-policy': ErrorCode.INVALID_CONFIG,
    'null-config': ErrorCode.INVALID_CONFIG,
    'too-many': ErrorCode.INVALID_PARTITIONS,
    ok: ErrorCode.NONE,
  });
  const msg = Object.fromEntries(res.topics.map((t) => [t.name, t.errorMessage]));
  assert.match(msg['unknown-config']!, /Unknown topic config name: no\.such\.config/);
  assert.match(msg['bad-value']!, /Invalid value soon for configuration retention\.ms/);
  assert.deepEqual([...broker.memory!.topics.keys()], ['ok']);
});

test('CreateTopics: existing topic → TOPIC_ALREADY_EXISTS; duplicate names → INVALID_REQUEST once', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'exists', partitionCount: 1 });
  const res = await call(handler, 7, req([{ name: 'exists' }, { name: 'dup' }, { name: 'dup', numPartitions: 4 }, { name: 'fine' }]), broker);
  assert.deepEqual(res.topics.map((t) => [t.name, t.errorCode]), [
    ['exists', ErrorCode.TOPIC_ALREADY_EXISTS],
    ['dup', ErrorCode.INVALID_REQUEST],
    ['fine', ErrorCode.NONE],
  ]);
  assert.equal(res.topics[0]!.errorMessage, "Topic 'exists' already exists.");
  assert.equal(res.topics[0]!.numPartitions, -1);
  assert.equal(res.topics[0]!.topicId, ZERO_UUID);
  assert.equal(await broker.metadata.getTopic('dup'), undefined);
});

test('CreateTopics validateOnly checks everything and creates nothing', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'exists', partitionCount: 1 });
  const res = await call(handler, 7, req([{ name: 'new', numPartitions: 6, configs: [{ name: 'retention.ms', value: '1000' }] }, { name: 'exists' }, { name: 'bad', numPartitions: 0 }], true), broker);
  assert.deepEqual(res.topics.map((t) => t.errorCode), [ErrorCode.NONE, ErrorCode.TOPIC_ALREADY_EXISTS, ErrorCode.INVALID_PARTITIONS]);
  assert.equal(res.topics[0]!.numPartitions, 6);
  assert.equal(res.topics[0]!.topicId, ZERO_UUID);
  assert.equal(await broker.metadata.getTopic('new'), undefined);
  assert.equal(broker.memory!.creates, 1);
});

test('CreateTopics manual assignments: consistent ones accepted, others INVALID_REPLICA_ASSIGNMENT / INVALID_REQUEST', async () => {
  const broker = fakeBroker({
    nodeId: 1,
    brokers: [
      { nodeId: 1, host: 'a', port: 1, rack: null },
      { nodeId: 2, host: 'b', port: 1, rack: null },
    ],
  });
  const as = (...lists: number[][]) => lists.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds }));
  const res = await call(
    handler,
    7,
    req([
      { name: 'good', assignments: as([1, 2], [2, 1], [1, 2]) },
      { name: 'gap', assignments: [{ partitionIndex: 0, brokerIds: [1] }, { partitionIndex: 2, brokerIds: [2] }] },
      { name: 'twice', assignments: [{ partitionIndex: 0, brokerIds: [1] }, { partitionIndex: 0, brokerIds: [2] }] },
      { name: 'empty', assignments: as([]) },
      { name: 'repeat', assignments: as([1, 1]) },
      { name: 'uneven', assignments: as([1, 2], [1]) },
      { name: 'ghost', assignments: as([9]) },
      { name: 'with-count', numPartitions: 1, assignments: as([1]) },
      { name: 'with-rf', replicationFactor: 1, assignments: as([1]) },
    ]),
    broker,
  );
  const codes = Object.fromEntries(res.topics.map((t) => [t.name, t.errorCode]));
  assert.deepEqual(codes, {
    good: ErrorCode.NONE,
    gap: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    twice: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    empty: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    repeat: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    uneven: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ghost: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    'with-count': ErrorCode.INVALID_REQUEST,
    'with-rf': ErrorCode.INVALID_REQUEST,
  });
  assert.equal((await broker.metadata.getTopic('good'))!.partitionCount, 3);
  assert.equal(res.topics[0]!.replicationFactor, 2);
});

test('CreateTopics: a store failure is that topic\'s error', async () => {
  const broker = fakeBroker();
  const { KafkaError } = await import('../../../protocol/index.js');
  broker.memory!.createTopic = async () => {
    throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'db down');
  };
  const res = await call(handler, 7, req([{ name: 'x' }]), broker);
  assert.equal(res.topics[0]!.errorCode, ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(res.topics[0]!.errorMessage, 'db down');
});

test('CreateTopics errorResponse covers every topic at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.CreateTopics, v, req([{ name: 'a' }, { name: 'b' }]));
    const res = roundTripResponse(ApiKey.CreateTopics, v, handler.errorResponse(body, ErrorCode.NOT_CONTROLLER, requestContext(broker, ApiKey.CreateTopics, v)));
    assert.deepEqual(res.topics.map((t) => [t.name, t.errorCode]), [
      ['a', ErrorCode.NOT_CONTROLLER],
      ['b', ErrorCode.NOT_CONTROLLER],
    ]);
  }
});

test('CreateTopics against the PGlite store', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store });
    const res = await call(handler, 7, req([{ name: 'pg', numPartitions: 3, configs: [{ name: 'retention.ms', value: '-1' }] }]), broker);
    assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
    const t = (await store.getTopic('pg'))!;
    assert.equal(t.partitionCount, 3);
    assert.equal(t.retentionMs, -1);
    assert.deepEqual(t.config, { 'retention.ms': '-1' });
    assert.equal(res.topics[0]!.topicId, t.topicId);
    const again = await call(handler, 7, req([{ name: 'pg' }]), broker);
    assert.equal(again.topics[0]!.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
  });
});
