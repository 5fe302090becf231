// Issue 12: offset.metadata.max.bytes is a setting, counted as Kafka counts it; a value the store
// refuses is answered with its own non-retriable code, never with a retriable one a client would
// repeat forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KafkaError } from '../../../protocol/index.js';
import { handler as joinGroup } from '../../../src/handlers/11-join-group.js';
import { handler as offsetCommit } from '../../../src/handlers/08-offset-commit.js';
import { handler as syncGroup } from '../../../src/handlers/14-sync-group.js';
import { resolveConfig } from '../../../src/config.js';
import { call, testCoordinator } from './fixtures.js';
import { settle, subscription } from './fakes.js';

const commit = (metadata: Array<string | null>) => ({
  groupId: 'g',
  generationIdOrMemberEpoch: -1,
  memberId: '',
  topics: [{ name: 't', partitions: metadata.map((committedMetadata, i) => ({ partitionIndex: i, committedOffset: 10 + i, committedMetadata })) }],
});

test('offset-metadata-max-bytes: 4096 by default; longer metadata is OFFSET_METADATA_TOO_LARGE for its partition only', async () => {
  assert.equal(resolveConfig({}, {}).offsetMetadataMaxBytes, 4096);
  assert.equal(resolveConfig({ offsetMetadataMaxBytes: '10' }, {}).offsetMetadataMaxBytes, 10);
  const t = testCoordinator();
  t.store.addTopic('t', 4);
  t.broker.config.offsetMetadataMaxBytes = 10; // the coordinator reads the same config object
  // Kafka compares String.length(): UTF-16 units, not UTF-8 bytes.
  const r = await call(offsetCommit, 8, commit(['x'.repeat(11), '😀'.repeat(5), 'é'.repeat(10), '\u0000'.repeat(10)]), t.broker);
  assert.deepEqual(r.topics[0].partitions.map((p) => p.errorCode), [ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE]);
  assert.deepEqual([...t.store.offsets.get('g')!.values()].map((o) => [o.partitionId, o.metadata]), [[1, '😀'.repeat(5)], [2, 'é'.repeat(10)], [3, '\u0000'.repeat(10)]]);
  const over = await call(offsetCommit, 8, commit([null, '😀'.repeat(6)]), t.broker);
  assert.deepEqual(over.topics[0].partitions.map((p) => p.errorCode), [ErrorCode.NONE, ErrorCode.OFFSET_METADATA_TOO_LARGE]);
});

test('a value the store refuses is answered with its non-retriable code: OffsetCommit, and JoinGroup once the group is stored', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 1);
  t.store.failWrites = new KafkaError(ErrorCode.INVALID_REQUEST, 'commitOffsets: invalid byte sequence');
  const r = await call(offsetCommit, 8, commit(['m']), t.broker);
  assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.INVALID_REQUEST);

  t.store.failWrites = new KafkaError(ErrorCode.INVALID_GROUP_ID, 'group id is 2000 bytes long');
  const joining = call(joinGroup, 3, { groupId: 'g2', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, t.broker);
  await settle();
  t.timers.advance(0);
  await settle();
  const j = await joining;
  assert.equal(j.errorCode, ErrorCode.NONE, 'v3 joins at once; the group is written with the assignment');
  // The leader's SyncGroup stores the assignment: refused, so the member learns it cannot go on.
  const s = await call(syncGroup, 3, { groupId: 'g2', generationId: j.generationId, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: Buffer.alloc(0) }] }, t.broker);
  assert.equal(s.errorCode, ErrorCode.INVALID_GROUP_ID);

  // A lost database stays retriable.
  t.store.failWrites = new Error('connection terminated');
  const lost = await call(offsetCommit, 8, commit(['m']), t.broker);
  assert.equal(lost.topics[0].partitions[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
});
