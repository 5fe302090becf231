import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/37-create-partitions.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

type Spec = { name: string; count: number; assignments?: Array<{ brokerIds: number[] }> | null };
const req = (topics: Spec[], validateOnly = false) => ({ topics: topics.map((t) => ({ assignments: null, ...t })), timeoutMs: 1000, validateOnly });

test('CreatePartitions advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.CreatePartitions)]);
});

test('CreatePartitions grows topics at every version; same or fewer → INVALID_PARTITIONS', async () => {
  for (const v of versionsOf(handler)) {
    const broker = fakeBroker();
    await broker.metadata.createTopic({ name: 't', partitionCount: 2 });
    await broker.metadata.createTopic({ name: 'same', partitionCount: 2 });
    await broker.metadata.createTopic({ name: 'less', partitionCount: 2 });
    const res = await call(handler, v, req([{ name: 't', count: 5 }, { name: 'same', count: 2 }, { name: 'less', count: 1 }, { name: 'nope', count: 3 }]), broker);
    assert.deepEqual(res.results.map((r) => [r.name, r.errorCode]), [
      ['t', ErrorCode.NONE],
      ['same', ErrorCode.INVALID_PARTITIONS],
      ['less', ErrorCode.INVALID_PARTITIONS],
      ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ], `v${v}`);
    assert.equal(res.results[0]!.errorMessage, null);
    assert.equal(res.results[1]!.errorMessage, 'Topic already has 2 partition(s).');
    assert.equal((await broker.metadata.getTopic('t'))!.partitionCount, 5);
  }
});

test('CreatePartitions validateOnly changes nothing', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 't', partitionCount: 2 });
  const res = await call(handler, 3, req([{ name: 't', count: 4 }], true), broker);
  assert.equal(res.results[0]!.errorCode, ErrorCode.NONE);
  assert.equal((await broker.metadata.getTopic('t'))!.partitionCount, 2);
});

test('CreatePartitions assignments: one consistent list per new partition', async () => {
  const broker = fakeBroker({ nodeId: 1, brokers: [{ nodeId: 1, host: 'a', port: 1, rack: null }, { nodeId: 2, host: 'b', port: 1, rack: null }] });
  for (const name of ['ok', 'short', 'ghost', 'uneven', 'dup-broker']) await broker.metadata.createTopic({ name, partitionCount: 1 });
  const res = await call(
    handler,
    3,
    req([
      { name: 'ok', count: 3, assignments: [{ brokerIds: [1] }, { brokerIds: [2] }] },
      { name: 'short', count: 3, assignments: [{ brokerIds: [1] }] },
      { name: 'ghost', count: 2, assignments: [{ brokerIds: [7] }] },
      { name: 'uneven', count: 3, assignments: [{ brokerIds: [1, 2] }, { brokerIds: [1] }] },
      { name: 'dup-broker', count: 2, assignments: [{ brokerIds: [2, 2] }] },
    ]),
    broker,
  );
  assert.deepEqual(res.results.map((r) => r.errorCode), [
    ErrorCode.NONE,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
    ErrorCode.INVALID_REPLICA_ASSIGNMENT,
  ]);
  assert.equal((await broker.metadata.getTopic('ok'))!.partitionCount, 3);
  assert.equal((await broker.metadata.getTopic('short'))!.partitionCount, 1);
});

test('CreatePartitions: duplicate topics → INVALID_REQUEST once', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 't', partitionCount: 1 });
  const res = await call(handler, 1, req([{ name: 't', count: 2 }, { name: 't', count: 3 }]), broker);
  assert.deepEqual(res.results.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST]);
  assert.equal((await broker.metadata.getTopic('t'))!.partitionCount, 1);
});

test('CreatePartitions errorResponse covers every topic at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.CreatePartitions, v, req([{ name: 'a', count: 2 }, { name: 'b', count: 2 }]));
    const res = roundTripResponse(ApiKey.CreatePartitions, v, handler.errorResponse(body, ErrorCode.KAFKA_STORAGE_ERROR, requestContext(broker, ApiKey.CreatePartitions, v)));
    assert.deepEqual(res.results.map((r) => [r.name, r.errorCode]), [
      ['a', ErrorCode.KAFKA_STORAGE_ERROR],
      ['b', ErrorCode.KAFKA_STORAGE_ERROR],
    ]);
  }
});

test('CreatePartitions against the PGlite store', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store });
    await store.createTopic({ name: 'g', partitionCount: 1 });
    const res = await call(handler, 3, req([{ name: 'g', count: 4 }]), broker);
    assert.equal(res.results[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await store.getPartitions('g')).length, 4);
    const shrink = await call(handler, 3, req([{ name: 'g', count: 2 }]), broker);
    assert.equal(shrink.results[0]!.errorCode, ErrorCode.INVALID_PARTITIONS);
  });
});
