import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/44-incremental-alter-configs.js';
import { ConfigOperation, ConfigResourceType } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

const TOPIC = ConfigResourceType.TOPIC;
const BROKER = ConfigResourceType.BROKER;
const { SET, DELETE, APPEND, SUBTRACT } = ConfigOperation;
type Op = { name: string; configOperation: number; value: string | null };
const topic = (resourceName: string, ...configs: Op[]) => ({ resourceType: TOPIC, resourceName, configs });
const req = (resources: Array<{ resourceType: number; resourceName: string; configs: Op[] }>, validateOnly = false) => ({ resources, validateOnly });

async function withTopic(config: Record<string, string> = {}) {
  const broker = fakeBroker({ nodeId: 1 });
  await broker.metadata.createTopic({ name: 't', partitionCount: 1, config });
  return broker;
}

test('IncrementalAlterConfigs advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.IncrementalAlterConfigs)]);
});

test('IncrementalAlterConfigs SET and DELETE keep the other overrides, at every version', async () => {
  for (const v of versionsOf(handler)) {
    const broker = await withTopic({ 'retention.ms': '1000', 'max.message.bytes': '500' });
    const res = await call(
      handler,
      v,
      req([topic('t', { name: 'retention.ms', configOperation: SET, value: '2000' }, { name: 'max.message.bytes', configOperation: DELETE, value: null }, { name: 'segment.ms', configOperation: SET, value: '60000' })]),
      broker,
    );
    assert.deepEqual(res.responses.map((r) => [r.resourceName, r.errorCode, r.errorMessage]), [['t', ErrorCode.NONE, null]], `v${v}`);
    const t = (await broker.metadata.getTopic('t'))!;
    assert.deepEqual(t.config, { 'retention.ms': '2000', 'segment.ms': '60000' });
    assert.equal(t.retentionMs, 2000);
  }
});

test('IncrementalAlterConfigs APPEND / SUBTRACT on cleanup.policy start from the default', async () => {
  const broker = await withTopic();
  await call(handler, 1, req([topic('t', { name: 'cleanup.policy', configOperation: APPEND, value: 'compact' })]), broker);
  assert.equal((await broker.metadata.getTopic('t'))!.config['cleanup.policy'], 'delete,compact');
  await call(handler, 1, req([topic('t', { name: 'cleanup.policy', configOperation: APPEND, value: 'compact,delete' })]), broker);
  assert.equal((await broker.metadata.getTopic('t'))!.config['cleanup.policy'], 'delete,compact');
  await call(handler, 1, req([topic('t', { name: 'cleanup.policy', configOperation: SUBTRACT, value: 'delete' })]), broker);
  assert.equal((await broker.metadata.getTopic('t'))!.config['cleanup.policy'], 'compact');
  const empty = await call(handler, 1, req([topic('t', { name: 'cleanup.policy', configOperation: SUBTRACT, value: 'compact' })]), broker);
  assert.equal(empty.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG, 'a topic needs at least one cleanup policy');
  assert.equal((await broker.metadata.getTopic('t'))!.config['cleanup.policy'], 'compact');
});

test('IncrementalAlterConfigs: APPEND to a non-list config, unknown config, bad value → INVALID_CONFIG', async () => {
  const broker = await withTopic();
  const res = await call(
    handler,
    1,
    req([
      topic('t', { name: 'retention.ms', configOperation: APPEND, value: '1' }),
    ]),
    broker,
  );
  assert.equal(res.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
  assert.match(res.responses[0]!.errorMessage!, /Can't APPEND to key retention\.ms because its type is not LIST/);
  const res2 = await call(handler, 1, req([topic('t', { name: 'no.such', configOperation: SET, value: '1' })]), broker);
  assert.equal(res2.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
  const res3 = await call(handler, 1, req([topic('t', { name: 'message.timestamp.type', configOperation: SET, value: 'Whenever' })]), broker);
  assert.equal(res3.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
  // Deleting a config that is not set (even an unknown name) changes nothing and is fine, as in Kafka.
  const res4 = await call(handler, 1, req([topic('t', { name: 'no.such', configOperation: DELETE, value: null })]), broker);
  assert.equal(res4.responses[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual((await broker.metadata.getTopic('t'))!.config, {});
});

test('IncrementalAlterConfigs: request-shape errors are INVALID_REQUEST', async () => {
  const broker = await withTopic();
  await broker.metadata.createTopic({ name: 'u', partitionCount: 1 });
  await broker.metadata.createTopic({ name: 'w', partitionCount: 1 });
  const res = await call(
    handler,
    1,
    req([
      topic('t', { name: 'retention.ms', configOperation: SET, value: '1' }, { name: 'retention.ms', configOperation: DELETE, value: null }),
      topic('u', { name: 'retention.ms', configOperation: 9, value: '1' }),
      topic('w', { name: 'retention.ms', configOperation: SET, value: null }),
      { resourceType: BROKER, resourceName: '1', configs: [{ name: 'num.partitions', configOperation: SET, value: '2' }] },
      { resourceType: BROKER, resourceName: '1', configs: [] },
      { resourceType: 8, resourceName: '1', configs: [] },
      topic('missing', { name: 'retention.ms', configOperation: SET, value: '1' }),
    ]),
    broker,
  );
  assert.deepEqual(res.responses.map((r) => r.errorCode), [
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ]);
});

test('IncrementalAlterConfigs: broker changes are read-only; an empty change is fine', async () => {
  const broker = await withTopic();
  const res = await call(handler, 1, req([{ resourceType: BROKER, resourceName: '1', configs: [{ name: 'log.retention.ms', configOperation: SET, value: '1' }] }]), broker);
  assert.equal(res.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
  assert.match(res.responses[0]!.errorMessage!, /read-only/);
  const empty = await call(handler, 1, req([{ resourceType: BROKER, resourceName: '', configs: [] }]), broker);
  assert.equal(empty.responses[0]!.errorCode, ErrorCode.NONE);
  const unknown = await call(handler, 1, req([{ resourceType: BROKER, resourceName: '1', configs: [{ name: 'cleanup.policy', configOperation: SET, value: 'delete' }] }]), broker);
  assert.equal(unknown.responses[0]!.errorCode, ErrorCode.NONE, 'not a broker config: accepted and unused, as in Kafka');
});

test('IncrementalAlterConfigs validateOnly writes nothing', async () => {
  const broker = await withTopic();
  const res = await call(handler, 1, req([topic('t', { name: 'retention.ms', configOperation: SET, value: '7' })], true), broker);
  assert.equal(res.responses[0]!.errorCode, ErrorCode.NONE);
  assert.deepEqual((await broker.metadata.getTopic('t'))!.config, {});
});

test('IncrementalAlterConfigs errorResponse covers every resource at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.IncrementalAlterConfigs, v, req([topic('a'), topic('b')]));
    const res = roundTripResponse(ApiKey.IncrementalAlterConfigs, v, handler.errorResponse(body, ErrorCode.KAFKA_STORAGE_ERROR, requestContext(broker, ApiKey.IncrementalAlterConfigs, v)));
    assert.deepEqual(res.responses.map((r) => [r.resourceName, r.errorCode]), [
      ['a', ErrorCode.KAFKA_STORAGE_ERROR],
      ['b', ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
  }
});

test('IncrementalAlterConfigs against the PGlite store', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store });
    await store.createTopic({ name: 'p', partitionCount: 1, config: { 'max.message.bytes': '100' } });
    const res = await call(handler, 1, req([topic('p', { name: 'retention.ms', configOperation: SET, value: '-1' }, { name: 'cleanup.policy', configOperation: APPEND, value: 'compact' })]), broker);
    assert.equal(res.responses[0]!.errorCode, ErrorCode.NONE);
    const t = (await store.getTopic('p'))!;
    assert.deepEqual(t.config, { 'cleanup.policy': 'delete,compact', 'max.message.bytes': '100', 'retention.ms': '-1' });
    assert.equal(t.retentionMs, -1);
  });
});
