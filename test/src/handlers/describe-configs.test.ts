import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/32-describe-configs.js';
import { ConfigResourceType, ConfigSource, ConfigType, TOPIC_CONFIGS } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf } from './admin-fixtures.js';

const TOPIC = ConfigResourceType.TOPIC;
const BROKER = ConfigResourceType.BROKER;
const req = (resources: Array<{ resourceType: number; resourceName: string; configurationKeys?: string[] | null }>, extra: Record<string, unknown> = {}) => ({
  resources: resources.map((r) => ({ configurationKeys: null, ...r })),
  includeSynonyms: false,
  includeDocumentation: false,
  ...extra,
});

async function brokerWithTopic() {
  const broker = fakeBroker({ nodeId: 3, config: { numPartitions: 6 } });
  await broker.metadata.createTopic({ name: 't', partitionCount: 1, retentionMs: 1000, config: { 'retention.ms': '1000', 'cleanup.policy': 'compact' } });
  return broker;
}

test('DescribeConfigs advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.DescribeConfigs)]);
});

test('DescribeConfigs topic: every config, overrides as DYNAMIC_TOPIC_CONFIG, at every version', async () => {
  const broker = await brokerWithTopic();
  for (const v of versionsOf(handler)) {
    const res = await call(handler, v, req([{ resourceType: TOPIC, resourceName: 't' }]), broker);
    const r = res.results[0]!;
    assert.equal(r.errorCode, ErrorCode.NONE, `v${v}`);
    assert.equal(r.configs.length, TOPIC_CONFIGS.size);
    const by = Object.fromEntries(r.configs.map((c) => [c.name, c]));
    assert.equal(by['retention.ms']!.value, '1000');
    assert.equal(by['cleanup.policy']!.value, 'compact');
    assert.equal(by['max.message.bytes']!.value, '1048588');
    assert.equal(by['retention.bytes']!.value, '-1');
    assert.equal(by['segment.bytes']!.value, '1073741824');
    assert.equal(by['message.timestamp.type']!.value, 'CreateTime');
    assert.equal(by['compression.type']!.value, 'producer');
    assert.equal(by['min.insync.replicas']!.value, '1');
    assert.ok(r.configs.every((c) => !c.readOnly && !c.isSensitive));
    if (v === 0) {
      assert.equal(by['retention.ms']!.isDefault, false);
      assert.equal(by['segment.bytes']!.isDefault, true);
    } else {
      assert.equal(by['retention.ms']!.configSource, ConfigSource.DYNAMIC_TOPIC_CONFIG);
      assert.equal(by['segment.bytes']!.configSource, ConfigSource.DEFAULT_CONFIG);
      assert.deepEqual(by['retention.ms']!.synonyms, [], 'no synonyms unless asked');
    }
    if (v >= 3) {
      assert.equal(by['retention.ms']!.configType, ConfigType.LONG);
      assert.equal(by['cleanup.policy']!.configType, ConfigType.LIST);
      assert.equal(by['preallocate']!.configType, ConfigType.BOOLEAN);
      assert.equal(by['max.message.bytes']!.configType, ConfigType.INT);
      assert.equal(by['min.cleanable.dirty.ratio']!.configType, ConfigType.DOUBLE);
      assert.equal(by['retention.ms']!.documentation, null, 'no documentation unless asked');
    }
  }
});

test('DescribeConfigs: configurationKeys filter; empty list = all', async () => {
  const broker = await brokerWithTopic();
  const res = await call(handler, 4, req([{ resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms', 'no.such'] }]), broker);
  assert.deepEqual(res.results[0]!.configs.map((c) => c.name), ['retention.ms']);
  const all = await call(handler, 4, req([{ resourceType: TOPIC, resourceName: 't', configurationKeys: [] }]), broker);
  assert.equal(all.results[0]!.configs.length, TOPIC_CONFIGS.size);
});

test('DescribeConfigs: synonyms (v1+) and documentation (v3+) when asked', async () => {
  const broker = await brokerWithTopic();
  for (const v of [1, 2, 3, 4]) {
    const res = await call(handler, v, req([{ resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms', 'segment.bytes'] }], { includeSynonyms: true, includeDocumentation: true }), broker);
    const [retention, segment] = res.results[0]!.configs;
    // Kafka leaves log.retention.ms unset (log.retention.hours applies): no broker synonym.
    assert.deepEqual(retention!.synonyms!.map((s) => [s.name, s.value, s.source]), [['retention.ms', '1000', ConfigSource.DYNAMIC_TOPIC_CONFIG]]);
    assert.deepEqual(segment!.synonyms!.map((s) => s.name), ['log.segment.bytes']);
    if (v >= 3) assert.match(retention!.documentation!, /delete/);
  }
});

test('DescribeConfigs: synonyms of default topic configs are what Kafka lists (kafkajs broker/describeConfigs spec)', async () => {
  const broker = await brokerWithTopic();
  await broker.metadata.createTopic({ name: 'plain', partitionCount: 1 });
  const keys = ['compression.type', 'retention.ms', 'segment.ms', 'segment.jitter.ms', 'flush.ms', 'flush.messages', 'cleanup.policy', 'max.message.bytes', 'leader.replication.throttled.replicas'];
  const res = await call(handler, 1, req([{ resourceType: TOPIC, resourceName: 'plain', configurationKeys: keys }], { includeSynonyms: true }), broker);
  const by = Object.fromEntries(res.results[0]!.configs.map((c) => [c.name, c.synonyms!.map((s) => [s.name, s.value, s.source])]));
  const D = ConfigSource.DEFAULT_CONFIG;
  assert.deepEqual(by, {
    'compression.type': [['compression.type', 'producer', D]],
    // Their broker configs have no default of their own in Kafka (the *.hours / scheduler ones apply).
    'retention.ms': [],
    'segment.ms': [],
    'segment.jitter.ms': [],
    'flush.ms': [],
    'flush.messages': [['log.flush.interval.messages', '9223372036854775807', D]],
    'cleanup.policy': [['log.cleanup.policy', 'delete', D]],
    'max.message.bytes': [['message.max.bytes', '1048588', D]],
    'leader.replication.throttled.replicas': [],
  });
});

test('DescribeConfigs: unknown topic, illegal name, unknown type → per-resource errors', async () => {
  const broker = await brokerWithTopic();
  const res = await call(
    handler,
    4,
    req([
      { resourceType: TOPIC, resourceName: 'missing' },
      { resourceType: TOPIC, resourceName: 'bad name' },
      { resourceType: 99, resourceName: 'x' },
      { resourceType: TOPIC, resourceName: 't', configurationKeys: ['retention.ms'] },
    ]),
    broker,
  );
  assert.deepEqual(res.results.map((r) => [r.resourceName, r.errorCode, r.configs.length]), [
    ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
    ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
    ['x', ErrorCode.INVALID_REQUEST, 0],
    ['t', ErrorCode.NONE, 1],
  ]);
});

test('DescribeConfigs broker: our settings under Kafka names, read-only, source by whether set', async () => {
  const broker = await brokerWithTopic();
  for (const v of versionsOf(handler)) {
    const res = await call(handler, v, req([{ resourceType: BROKER, resourceName: '3' }], { includeSynonyms: true }), broker);
    const r = res.results[0]!;
    assert.equal(r.errorCode, ErrorCode.NONE, `v${v}`);
    const by = Object.fromEntries(r.configs.map((c) => [c.name, c]));
    assert.equal(by['broker.id']!.value, '3');
    assert.equal(by['num.partitions']!.value, '6');
    assert.equal(by['auto.create.topics.enable']!.value, 'true');
    assert.equal(by['log.retention.ms']!.value, null, 'unset, as in Kafka');
    assert.equal(by['log.retention.hours']!.value, '168');
    assert.equal(by['message.max.bytes']!.value, '1048588');
    assert.equal(by['default.replication.factor']!.value, '1');
    assert.ok(r.configs.every((c) => c.readOnly));
    if (v >= 1) {
      assert.equal(by['num.partitions']!.configSource, ConfigSource.STATIC_BROKER_CONFIG, 'differs from the settings default');
      assert.equal(by['auto.create.topics.enable']!.configSource, ConfigSource.DEFAULT_CONFIG);
      assert.deepEqual(by['num.partitions']!.synonyms!.map((s) => s.source), [ConfigSource.STATIC_BROKER_CONFIG]);
    }
  }
});

test('DescribeConfigs broker: empty name = no dynamic defaults; other ids → INVALID_REQUEST', async () => {
  const broker = await brokerWithTopic();
  const res = await call(handler, 4, req([{ resourceType: BROKER, resourceName: '' }, { resourceType: BROKER, resourceName: '4' }, { resourceType: BROKER, resourceName: 'abc' }]), broker);
  assert.deepEqual(res.results.map((r) => [r.errorCode, r.configs.length]), [
    [ErrorCode.NONE, 0],
    [ErrorCode.INVALID_REQUEST, 0],
    [ErrorCode.INVALID_REQUEST, 0],
  ]);
});

test('DescribeConfigs errorResponse covers every resource at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.DescribeConfigs, v, req([{ resourceType: TOPIC, resourceName: 'a' }, { resourceType: BROKER, resourceName: '1' }]));
    const res = roundTripResponse(ApiKey.DescribeConfigs, v, handler.errorResponse(body, ErrorCode.KAFKA_STORAGE_ERROR, requestContext(broker, ApiKey.DescribeConfigs, v)));
    assert.deepEqual(res.results.map((r) => [r.resourceName, r.errorCode]), [
      ['a', ErrorCode.KAFKA_STORAGE_ERROR],
      ['1', ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
  }
});
