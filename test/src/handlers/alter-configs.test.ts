import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/33-alter-configs.js';
import { ConfigResourceType } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

const TOPIC = ConfigResourceType.TOPIC;
const BROKER = ConfigResourceType.BROKER;
type Res = { resourceType: number; resourceName: string; configs: Array<{ name: string; value: string | null }> };
const req = (resources: Res[], validateOnly = false) => ({ resources, validateOnly });

test('AlterConfigs advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.AlterConfigs)]);
});

test('AlterConfigs replaces the whole override set, at every version', async () => {
  for (const v of versionsOf(handler)) {
    const broker = fakeBroker();
    await broker.metadata.createTopic({ name: 't', partitionCount: 1, retentionMs: 1000, config: { 'retention.ms': '1000', 'cleanup.policy': 'compact' } });
    const res = await call(handler, v, req([{ resourceType: TOPIC, resourceName: 't', configs: [{ name: 'max.message.bytes', value: '2000000' }] }]), broker);
    assert.deepEqual(res.responses.map((r) => [r.resourceName, r.errorCode, r.errorMessage]), [['t', ErrorCode.NONE, null]], `v${v}`);
    const t = (await broker.metadata.getTopic('t'))!;
    assert.deepEqual(t.config, { 'max.message.bytes': '2000000' }, 'unnamed configs return to their defaults');
    assert.equal(t.retentionMs, null);
  }
});

test('AlterConfigs sets retention.ms in the column too', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  await call(handler, 2, req([{ resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: '86400000' }] }]), broker);
  assert.equal((await broker.metadata.getTopic('t'))!.retentionMs, 86400000);
});

test('AlterConfigs validateOnly validates and writes nothing', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  const ok = await call(handler, 1, req([{ resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: '5' }] }], true), broker);
  assert.equal(ok.responses[0]!.errorCode, ErrorCode.NONE);
  const bad = await call(handler, 1, req([{ resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: 'x' }] }], true), broker);
  assert.equal(bad.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
  assert.deepEqual((await broker.metadata.getTopic('t'))!.config, {});
});

test('AlterConfigs errors per resource', async () => {
  const broker = fakeBroker({ nodeId: 1 });
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  await broker.metadata.createTopic({ name: 'u', partitionCount: 1 });
  const res = await call(
    handler,
    2,
    req([
      { resourceType: TOPIC, resourceName: 'missing', configs: [] },
      { resourceType: TOPIC, resourceName: 'bad name', configs: [] },
      { resourceType: TOPIC, resourceName: '', configs: [] },
      { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'no.such', value: '1' }] },
      { resourceType: TOPIC, resourceName: 'u', configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] },
      { resourceType: BROKER, resourceName: '1', configs: [{ name: 'num.partitions', value: '3' }] },
      { resourceType: BROKER, resourceName: '2', configs: [] },
      { resourceType: BROKER, resourceName: '1', configs: [] },
      { resourceType: 8, resourceName: '1', configs: [] },
    ]),
    broker,
  );
  assert.deepEqual(res.responses.map((r) => [r.resourceName, r.errorCode]), [
    ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION],
    ['', ErrorCode.INVALID_REQUEST],
    ['t', ErrorCode.INVALID_CONFIG],
    ['u', ErrorCode.INVALID_REQUEST],
    ['1', ErrorCode.INVALID_REQUEST],
    ['2', ErrorCode.INVALID_REQUEST],
    ['1', ErrorCode.INVALID_REQUEST],
    ['1', ErrorCode.INVALID_REQUEST],
  ]);
  assert.match(res.responses[5]!.errorMessage!, /Duplicate resource/, 'BROKER 1 appears twice');
});

test('AlterConfigs: an empty broker change is a no-op; a read-only broker config is INVALID_REQUEST', async () => {
  const broker = fakeBroker({ nodeId: 1 });
  const res = await call(handler, 2, req([{ resourceType: BROKER, resourceName: '1', configs: [] }, { resourceType: BROKER, resourceName: '', configs: [{ name: 'log.retention.ms', value: '1' }] }]), broker);
  assert.deepEqual(res.responses.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.INVALID_REQUEST]);
  assert.match(res.responses[1]!.errorMessage!, /read-only/);
});

test('AlterConfigs broker: a name that is no broker config is accepted and changes nothing, as in Kafka (kafkajs admin/alterConfigs spec)', async () => {
  const broker = fakeBroker({ nodeId: 1 });
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  const res = await call(
    handler,
    1,
    req([
      { resourceType: TOPIC, resourceName: 't', configs: [{ name: 'cleanup.policy', value: 'compact' }] },
      { resourceType: BROKER, resourceName: '1', configs: [{ name: 'cleanup.policy', value: 'delete' }] },
      { resourceType: BROKER, resourceName: '', configs: [{ name: 'cleanup.policy', value: 'delete' }, { name: 'num.partitions', value: '3' }] },
    ]),
    broker,
  );
  assert.deepEqual(res.responses.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.INVALID_REQUEST]);
  assert.match(res.responses[2]!.errorMessage!, /num\.partitions/);
  assert.doesNotMatch(res.responses[2]!.errorMessage!, /cleanup/);
  assert.deepEqual((await broker.metadata.getTopic('t'))!.config, { 'cleanup.policy': 'compact' }, 'the topic change alone');
});

test('AlterConfigs: null values are INVALID_REQUEST', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  const res = await call(handler, 0, req([{ resourceType: TOPIC, resourceName: 't', configs: [{ name: 'retention.ms', value: null }] }]), broker);
  assert.equal(res.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
});

test('AlterConfigs errorResponse covers every resource at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.AlterConfigs, v, req([{ resourceType: TOPIC, resourceName: 'a', configs: [] }, { resourceType: BROKER, resourceName: '1', configs: [] }]));
    const res = roundTripResponse(ApiKey.AlterConfigs, v, handler.errorResponse(body, ErrorCode.POLICY_VIOLATION, requestContext(broker, ApiKey.AlterConfigs, v)));
    assert.deepEqual(res.responses.map((r) => [r.resourceName, r.errorCode]), [
      ['a', ErrorCode.POLICY_VIOLATION],
      ['1', ErrorCode.POLICY_VIOLATION],
    ]);
  }
});

test('AlterConfigs against the PGlite store', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store });
    await store.createTopic({ name: 'p', partitionCount: 1, retentionMs: 5000, config: { 'retention.ms': '5000' } });
    const res = await call(handler, 2, req([{ resourceType: TOPIC, resourceName: 'p', configs: [{ name: 'cleanup.policy', value: 'compact' }] }]), broker);
    assert.equal(res.responses[0]!.errorCode, ErrorCode.NONE);
    const t = (await store.getTopic('p'))!;
    assert.deepEqual(t.config, { 'cleanup.policy': 'compact' });
    assert.equal(t.retentionMs, null);
  });
});
