import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../protocol/index.js';
import {
  TOPIC_CONFIGS,
  autoCreateTopic,
  brokerConfigEntries,
  brokerResourceProblem,
  controllerIdOf,
  getOrAutoCreateTopic,
  normalizeTopicConfigValue,
  resolveTopicConfig,
  retentionMsColumn,
  topicConfigValue,
  topicNameProblem,
  validateTopicConfig,
  ConfigSource,
} from '../../src/topics.js';
import { fakeBroker, testConfig } from './handlers/admin-fixtures.js';

function invalidConfig(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KafkaError);
    assert.equal(err.code, ErrorCode.INVALID_CONFIG);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('topic names follow Kafka: 1-249 of [a-zA-Z0-9._-], not . or ..', () => {
  for (const ok of ['a', 'A-b_c.9', 'x'.repeat(249), '...', '_']) assert.equal(topicNameProblem(ok), undefined, ok);
  for (const bad of ['', '.', '..', 'x'.repeat(250), 'a b', 'a/b', 'é', 'a\u0000', null, undefined]) assert.notEqual(topicNameProblem(bad), undefined, String(bad));
});

test('Kafka defaults of the main topic configs', () => {
  const d = (n: string) => TOPIC_CONFIGS.get(n)!.default;
  assert.equal(d('retention.ms'), '604800000');
  assert.equal(d('retention.bytes'), '-1');
  assert.equal(d('cleanup.policy'), 'delete');
  assert.equal(d('max.message.bytes'), '1048588');
  assert.equal(d('segment.bytes'), '1073741824');
  assert.equal(d('message.timestamp.type'), 'CreateTime');
  assert.equal(d('compression.type'), 'producer');
  assert.equal(d('min.insync.replicas'), '1');
  // Every default passes its own validation.
  for (const def of TOPIC_CONFIGS.values()) assert.equal(normalizeTopicConfigValue(def.name, def.default), def.default, def.name);
});

test('config values are validated and put in canonical form', () => {
  assert.equal(normalizeTopicConfigValue('retention.ms', ' 1000 '), '1000');
  assert.equal(normalizeTopicConfigValue('retention.ms', '-1'), '-1');
  assert.equal(normalizeTopicConfigValue('retention.ms', '+5'), '5');
  assert.equal(normalizeTopicConfigValue('retention.bytes', '-1'), '-1');
  assert.equal(normalizeTopicConfigValue('flush.ms', '9223372036854775807'), '9223372036854775807');
  assert.equal(normalizeTopicConfigValue('cleanup.policy', 'compact , delete,compact'), 'compact,delete');
  assert.equal(normalizeTopicConfigValue('preallocate', 'True'), 'true');
  assert.equal(normalizeTopicConfigValue('min.cleanable.dirty.ratio', '0.25'), '0.25');
  assert.equal(normalizeTopicConfigValue('message.timestamp.type', 'LogAppendTime'), 'LogAppendTime');
  assert.equal(normalizeTopicConfigValue('compression.gzip.level', '-1'), '-1');

  invalidConfig(() => normalizeTopicConfigValue('no.such', '1'), /Unknown topic config name: no\.such/);
  invalidConfig(() => normalizeTopicConfigValue('retention.ms', null), /Null value/);
  invalidConfig(() => normalizeTopicConfigValue('retention.ms', '1.5'));
  invalidConfig(() => normalizeTopicConfigValue('retention.ms', '-2'), /at least -1/);
  invalidConfig(() => normalizeTopicConfigValue('retention.ms', '0'));
  invalidConfig(() => normalizeTopicConfigValue('retention.ms', '9223372036854775808'));
  invalidConfig(() => normalizeTopicConfigValue('max.message.bytes', '2147483648'), /32-bit/);
  invalidConfig(() => normalizeTopicConfigValue('segment.bytes', '13'));
  invalidConfig(() => normalizeTopicConfigValue('min.insync.replicas', '0'));
  invalidConfig(() => normalizeTopicConfigValue('cleanup.policy', 'delete,shred'));
  invalidConfig(() => normalizeTopicConfigValue('cleanup.policy', ''));
  invalidConfig(() => normalizeTopicConfigValue('compression.type', 'brotli'));
  invalidConfig(() => normalizeTopicConfigValue('compression.type', 'GZIP'), /one of/);
  invalidConfig(() => normalizeTopicConfigValue('message.timestamp.type', 'createtime'));
  invalidConfig(() => normalizeTopicConfigValue('preallocate', 'yes'));
  invalidConfig(() => normalizeTopicConfigValue('min.cleanable.dirty.ratio', '1.5'));
  invalidConfig(() => normalizeTopicConfigValue('min.cleanable.dirty.ratio', 'abc'));
  invalidConfig(() => normalizeTopicConfigValue('compression.gzip.level', '0'));
  invalidConfig(() => normalizeTopicConfigValue('compression.zstd.level', '23'));
});

test('throttled-replicas lists (Kafka 4 topic configs, set by reassignment tools): * or partition:broker pairs', () => {
  for (const name of ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas']) {
    assert.equal(TOPIC_CONFIGS.get(name)!.default, '', name);
    assert.equal(TOPIC_CONFIGS.get(name)!.brokerName, null, 'no broker synonym');
    assert.equal(normalizeTopicConfigValue(name, '*'), '*');
    assert.equal(normalizeTopicConfigValue(name, '0:1, 1:2'), '0:1,1:2');
    invalidConfig(() => normalizeTopicConfigValue(name, 'x'));
    invalidConfig(() => normalizeTopicConfigValue(name, '0:1,*'));
  }
});

test('validateTopicConfig checks the rules between values', () => {
  assert.deepEqual(validateTopicConfig({ 'retention.ms': ' 10 ', 'cleanup.policy': 'compact' }), { 'cleanup.policy': 'compact', 'retention.ms': '10' });
  invalidConfig(() => validateTopicConfig({ 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }), /conflict/);
});

test('retention_ms column: null when unset, -1 beyond safe integers', () => {
  assert.equal(retentionMsColumn({}), null);
  assert.equal(retentionMsColumn({ 'retention.ms': '5000' }), 5000);
  assert.equal(retentionMsColumn({ 'retention.ms': '-1' }), -1);
  assert.equal(retentionMsColumn({ 'retention.ms': '9223372036854775807' }), -1);
});

test('resolveTopicConfig: overrides, else defaults, typed', () => {
  const r = resolveTopicConfig({ config: { 'cleanup.policy': 'compact,delete', 'message.timestamp.type': 'LogAppendTime', 'max.message.bytes': '100' } });
  assert.deepEqual(r.cleanupPolicy, ['compact', 'delete']);
  assert.equal(r.compacted, true);
  assert.equal(r.messageTimestampType, 'LogAppendTime');
  assert.equal(r.maxMessageBytes, 100);
  assert.equal(r.retentionMs, 604800000);
  assert.equal(r.retentionBytes, -1);
  assert.equal(r.compressionType, 'producer');
  assert.ok(r.messageTimestampBeforeMaxMs > 9e18);
  const plain = resolveTopicConfig({ config: {} });
  assert.equal(plain.compacted, false);
  assert.equal(topicConfigValue({ config: {} }, 'segment.bytes'), '1073741824');
  // The deprecated message.timestamp.difference.max.ms bounds both directions unless they are set.
  const diff = resolveTopicConfig({ config: { 'message.timestamp.difference.max.ms': '604800000' } });
  assert.deepEqual([diff.messageTimestampBeforeMaxMs, diff.messageTimestampAfterMaxMs], [604800000, 604800000]);
  const both = resolveTopicConfig({ config: { 'message.timestamp.difference.max.ms': '604800000', 'message.timestamp.after.max.ms': '1000' } });
  assert.deepEqual([both.messageTimestampBeforeMaxMs, both.messageTimestampAfterMaxMs], [604800000, 1000]);
  // Cached per config object.
  const cfg = { 'retention.ms': '5' };
  assert.equal(resolveTopicConfig({ config: cfg }), resolveTopicConfig({ config: cfg }));
});

test('broker config table: Kafka names, our settings, topic defaults under broker names', () => {
  const entries = brokerConfigEntries({ config: testConfig({ numPartitions: 3, rack: 'eu-1' }), nodeId: 7 });
  const by = Object.fromEntries(entries.map((e) => [e.name, e]));
  assert.equal(by['broker.id']!.value, '7');
  assert.equal(by['node.id']!.value, '7');
  assert.equal(by['num.partitions']!.value, '3');
  assert.equal(by['num.partitions']!.source, ConfigSource.STATIC_BROKER_CONFIG);
  assert.equal(by['broker.rack']!.value, 'eu-1');
  assert.equal(by['auto.create.topics.enable']!.source, ConfigSource.DEFAULT_CONFIG);
  assert.equal(by['log.retention.ms']!.value, null, 'Kafka leaves it unset: log.retention.hours applies');
  assert.equal(by['log.retention.hours']!.value, '168');
  assert.equal(by['log.roll.ms']!.value, null);
  assert.equal(by['log.roll.hours']!.value, '168');
  assert.equal(by['log.cleanup.policy']!.value, 'delete');
  assert.equal(by['message.max.bytes']!.value, '1048588');
  assert.equal(by['log.segment.bytes']!.value, '1073741824');
  assert.equal(by['min.insync.replicas']!.value, '1');
  assert.equal(by['default.replication.factor']!.value, '1');
  assert.equal(by['socket.request.max.bytes']!.value, String(100 * 1024 * 1024));
  assert.match(by['advertised.listeners']!.value!, /^PLAINTEXT:\/\/localhost:9092$/);
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort(), 'sorted');
  assert.equal(new Set(names).size, names.length, 'no duplicates');
});

test('broker resource names: empty or this node id', () => {
  assert.equal(brokerResourceProblem('', 1), undefined);
  assert.equal(brokerResourceProblem('1', 1), undefined);
  assert.match(brokerResourceProblem('2', 1)!, /Unexpected broker id/);
  assert.match(brokerResourceProblem('x', 1)!, /must be an integer/);
});

test('controller id: lowest live node, else self', () => {
  assert.equal(controllerIdOf([{ nodeId: 3, host: '', port: 0, rack: null }, { nodeId: 1, host: '', port: 0, rack: null }], 3), 1);
  assert.equal(controllerIdOf([], 9), 9);
});

test('autoCreateTopic: num.partitions, illegal names refused, concurrent calls share one insert', async () => {
  const broker = fakeBroker({ config: { numPartitions: 3 } });
  const t = await autoCreateTopic(broker, 'auto');
  assert.equal(t.partitionCount, 3);
  assert.deepEqual(t.config, {});
  await assert.rejects(autoCreateTopic(broker, 'bad name'), (err: unknown) => err instanceof KafkaError && err.code === ErrorCode.INVALID_TOPIC_EXCEPTION);
  broker.memory!.createDelayMs = 10;
  const before = broker.memory!.creates;
  const all = await Promise.all([1, 2, 3].map(() => autoCreateTopic(broker, 'together')));
  assert.equal(broker.memory!.creates - before, 1);
  assert.equal(new Set(all.map((x) => x.topicId)).size, 1);
  // Already there (another agent won): read back.
  const again = await autoCreateTopic(broker, 'auto');
  assert.equal(again.topicId, t.topicId);
});

test('getOrAutoCreateTopic honours the request wish and auto.create.topics.enable', async () => {
  const on = fakeBroker();
  assert.equal(await getOrAutoCreateTopic(on, 'x', false), undefined);
  assert.ok(await getOrAutoCreateTopic(on, 'x'));
  const off = fakeBroker({ config: { autoCreateTopics: false } });
  assert.equal(await getOrAutoCreateTopic(off, 'x'), undefined);
  assert.equal(off.memory!.creates, 0);
});
