// Offset expiry (offsets.retention.minutes) in the group coordinator, on fakes with a manual clock:
// Empty groups lose their offsets (and then themselves) once Empty for the retention; simple
// consumers' offsets go by commit age; active groups keep the offsets of topics they subscribe to and
// lose the others (KIP-496); groups another broker coordinates are left to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import { handler as joinGroup } from '../../../src/handlers/11-join-group.js';
import { handler as leaveGroup } from '../../../src/handlers/13-leave-group.js';
import { handler as syncGroup } from '../../../src/handlers/14-sync-group.js';
import { handler as offsetCommit } from '../../../src/handlers/08-offset-commit.js';
import { handler as offsetFetch } from '../../../src/handlers/09-offset-fetch.js';
import { call, testCluster, testCoordinator, type TestCoordinator } from './fixtures.js';
import { assignment, settle, subscription } from './fakes.js';

const RETENTION = 60_000;

/** Moves the coordinator's clock and the store's commit clock together. */
function advance(t: TestCoordinator, ms: number): void {
  t.timers.advance(ms);
  t.store.now = t.timers.now();
}

/** One member joins and syncs; the group is Stable. */
async function stable(t: TestCoordinator, groupId: string, topics: string[]): Promise<{ memberId: string; generationId: number }> {
  const req = { groupId, sessionTimeoutMs: 600_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(topics) }] };
  const p = call(joinGroup, 3, req, t.broker);
  await settle();
  t.timers.advance(0);
  const j = await p;
  assert.equal(j.errorCode, ErrorCode.NONE);
  const s = await call(syncGroup, 3, { groupId, generationId: j.generationId, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: assignment({ [topics[0]]: [0] }) }] }, t.broker);
  assert.equal(s.errorCode, ErrorCode.NONE);
  return { memberId: j.memberId, generationId: j.generationId };
}

async function commit(t: TestCoordinator, groupId: string, offsets: Record<string, number[]>, member = { memberId: '', generationId: -1 }): Promise<void> {
  const r = await call(offsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: member.generationId,
    memberId: member.memberId,
    topics: Object.entries(offsets).map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex, committedOffset: 10 + partitionIndex, committedMetadata: null })) })),
  }, t.broker);
  assert.ok(r.topics.every((x) => x.partitions.every((p) => p.errorCode === ErrorCode.NONE)), JSON.stringify(r));
}

async function committed(t: TestCoordinator, groupId: string, topic: string, partitions: number[]): Promise<number[]> {
  const f = await call(offsetFetch, 7, { groupId, topics: [{ name: topic, partitionIndexes: partitions }] }, t.broker);
  return f.topics![0].partitions.map((p) => p.committedOffset);
}

function setup(opts: Parameters<typeof testCoordinator>[0] = {}): TestCoordinator {
  const t = testCoordinator(opts);
  t.store.now = t.timers.now();
  t.store.addTopic('t', 2);
  t.store.addTopic('other', 1);
  return t;
}

test('an Empty group keeps its offsets until it has been Empty for the retention, then they and the group go', async () => {
  const t = setup();
  const m = await stable(t, 'g', ['t']);
  await commit(t, 'g', { t: [0, 1] }, m);
  advance(t, 2 * RETENTION); // the commits are old, but the group is active
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 0, groups: 0 });
  assert.deepEqual(await committed(t, 'g', 't', [0, 1]), [10, 11]);

  const left = await call(leaveGroup, 3, { groupId: 'g', memberId: '', members: [{ memberId: m.memberId, groupInstanceId: null }] }, t.broker);
  assert.equal(left.errorCode, ErrorCode.NONE);
  await settle();
  advance(t, RETENTION - 1);
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 0, groups: 0 }, 'not Empty for long enough');
  assert.deepEqual(await committed(t, 'g', 't', [0, 1]), [10, 11]);

  advance(t, 2);
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 2, groups: 1 });
  assert.deepEqual(await committed(t, 'g', 't', [0, 1]), [-1, -1]);
  assert.equal(t.store.groups.has('g'), false);
  assert.deepEqual((await t.coordinator.listGroups()).groups, []);
  assert.equal((await t.coordinator.describeGroup('g')).groupState, 'Dead');
});

test('simple consumers (no members): each offset goes by the age of its commit', async () => {
  const t = setup();
  await commit(t, 'simple', { t: [0] });
  advance(t, RETENTION / 2);
  await commit(t, 'simple', { t: [1] });
  advance(t, RETENTION / 2 + 1);
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 1, groups: 0 });
  assert.deepEqual(await committed(t, 'simple', 't', [0, 1]), [-1, 11]);
  advance(t, RETENTION / 2);
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 1, groups: 1 });
  assert.deepEqual((await t.coordinator.listGroups()).groups, []);
});

test('simple consumers after a coordinator restart: still offset by offset, although the group is read back from its newest commit', async () => {
  const t = setup();
  await commit(t, 'simple', { t: [0] });
  advance(t, RETENTION / 2);
  await commit(t, 'simple', { t: [1] });
  await t.coordinator.shutdown();
  const again = setup({ store: t.store });
  await again.coordinator.start();
  again.timers.advance(t.timers.now() - again.timers.now() + RETENTION / 2 + 1);
  again.store.now = again.timers.now();
  assert.deepEqual(await again.coordinator.expireOffsets(RETENTION), { offsets: 1, groups: 0 });
  assert.deepEqual(await committed(again, 'simple', 't', [0, 1]), [-1, 11]);
});

test('an active group keeps the offsets of topics it subscribes to; those of other topics expire', async () => {
  const t = setup();
  const m = await stable(t, 'g', ['t']);
  await commit(t, 'g', { t: [0], other: [0] }, m);
  advance(t, RETENTION + 1); // well within the member's 10 min session
  assert.equal(t.coordinator.inMemoryState('g')?.state, 'Stable');
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 1, groups: 0 });
  assert.deepEqual(await committed(t, 'g', 't', [0]), [10]);
  assert.deepEqual(await committed(t, 'g', 'other', [0]), [-1]);
});

test('only the groups this broker coordinates; a commit newer than the cut-off stays', async () => {
  const [t] = await testCluster([1, 2]);
  t.store.now = t.timers.now();
  t.store.addTopic('t', 2);
  const ids = Array.from({ length: 40 }, (_, i) => `grp-${i}`);
  const ours = (g: string) => t.shards.epochOf(t.shards.shardOf(g)) !== undefined;
  const mine = ids.find((g) => ours(g))!;
  const theirs = ids.find((g) => !ours(g))!;
  const old = { topic: 't', partitionId: 0, offset: 3, leaderEpoch: -1, metadata: null, commitTimestamp: t.timers.now() - 2 * RETENTION };
  const recent = { topic: 't', partitionId: 1, offset: 4, leaderEpoch: -1, metadata: null, commitTimestamp: t.timers.now() };
  await t.store.commitOffsets(mine, [old, recent]);
  await t.store.commitOffsets(theirs, [old]);
  assert.deepEqual(await t.coordinator.expireOffsets(RETENTION), { offsets: 1, groups: 0 });
  assert.deepEqual((await t.store.fetchOffsets(mine)).map((o) => o.partitionId), [1]);
  assert.deepEqual((await t.store.fetchOffsets(theirs)).map((o) => o.partitionId), [0]);
});
