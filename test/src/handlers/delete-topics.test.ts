import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../../protocol/index.js';
import { handler } from '../../../src/handlers/20-delete-topics.js';
import { ZERO_UUID } from '../../../src/topics.js';
import { call, fakeBroker, overTheWire, requestContext, roundTripResponse, validVersions, versionsOf, withPgliteStore } from './admin-fixtures.js';

const byNames = (version: number, names: string[]) =>
  version >= 6 ? { topics: names.map((name) => ({ name, topicId: ZERO_UUID })), timeoutMs: 1000 } : { topicNames: names, timeoutMs: 1000 };

test('DeleteTopics advertises the full valid range', () => {
  assert.deepEqual([handler.minVersion, handler.maxVersion], [...validVersions(ApiKey.DeleteTopics)]);
});

test('DeleteTopics by name at every version; unknown → UNKNOWN_TOPIC_OR_PARTITION', async () => {
  for (const v of versionsOf(handler)) {
    const broker = fakeBroker();
    await broker.metadata.createTopic({ name: 'a', partitionCount: 1 });
    const res = await call(handler, v, byNames(v, ['a', 'missing']), broker);
    assert.deepEqual(res.responses.map((r) => [r.name, r.errorCode]), [
      ['a', ErrorCode.NONE],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ], `v${v}`);
    assert.equal(await broker.metadata.getTopic('a'), undefined);
  }
});

test('DeleteTopics v6 by id; unknown id → UNKNOWN_TOPIC_ID; both or neither → INVALID_REQUEST', async () => {
  const broker = fakeBroker();
  const t = await broker.metadata.createTopic({ name: 'by-id', partitionCount: 1 });
  const missing = '6d1c5b9e-1111-4222-8333-444455556666';
  const res = await call(
    handler,
    6,
    {
      topics: [
        { name: null, topicId: t.topicId },
        { name: null, topicId: missing },
        { name: 'both', topicId: missing },
        { name: null, topicId: ZERO_UUID },
      ],
      timeoutMs: 1000,
    },
    broker,
  );
  assert.deepEqual(res.responses.map((r) => [r.name, r.topicId, r.errorCode]), [
    ['by-id', t.topicId, ErrorCode.NONE],
    [null, missing, ErrorCode.UNKNOWN_TOPIC_ID],
    ['both', missing, ErrorCode.INVALID_REQUEST],
    [null, ZERO_UUID, ErrorCode.INVALID_REQUEST],
  ]);
  assert.equal(await broker.metadata.getTopic('by-id'), undefined);
});

test('DeleteTopics: duplicates are INVALID_REQUEST once and not deleted', async () => {
  const broker = fakeBroker();
  await broker.metadata.createTopic({ name: 'd', partitionCount: 1 });
  const res = await call(handler, 1, byNames(1, ['d', 'd']), broker);
  assert.deepEqual(res.responses.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST]);
  assert.ok(await broker.metadata.getTopic('d'));
});

test('DeleteTopics errorResponse covers every topic at every version', () => {
  const broker = fakeBroker();
  for (const v of versionsOf(handler)) {
    const body = overTheWire(ApiKey.DeleteTopics, v, byNames(v, ['a', 'b']));
    const res = roundTripResponse(ApiKey.DeleteTopics, v, handler.errorResponse(body, ErrorCode.REQUEST_TIMED_OUT, requestContext(broker, ApiKey.DeleteTopics, v)));
    assert.deepEqual(res.responses.map((r) => [r.name, r.errorCode]), [
      ['a', ErrorCode.REQUEST_TIMED_OUT],
      ['b', ErrorCode.REQUEST_TIMED_OUT],
    ]);
  }
});

test('DeleteTopics against the PGlite store (name and id)', async () => {
  await withPgliteStore(async (store) => {
    const broker = fakeBroker({ store });
    await store.createTopic({ name: 'x', partitionCount: 2 });
    const y = await store.createTopic({ name: 'y', partitionCount: 1 });
    const res = await call(handler, 6, { topics: [{ name: 'x', topicId: ZERO_UUID }, { name: null, topicId: y.topicId }], timeoutMs: 1000 }, broker);
    assert.deepEqual(res.responses.map((r) => r.errorCode), [ErrorCode.NONE, ErrorCode.NONE]);
    assert.deepEqual(await store.listTopics(), []);
    const again = await call(handler, 6, { topics: [{ name: null, topicId: y.topicId }], timeoutMs: 1000 }, broker);
    assert.equal(again.responses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });
});
