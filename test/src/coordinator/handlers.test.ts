// The group handlers over the coordinator on fakes, at every version they advertise: FindCoordinator,
// JoinGroup/SyncGroup/Heartbeat/LeaveGroup, OffsetCommit/OffsetFetch, ListGroups, DescribeGroups,
// DeleteGroups, OffsetDelete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import { handler as findCoordinator } from '../../../src/handlers/10-find-coordinator.js';
import { handler as joinGroup } from '../../../src/handlers/11-join-group.js';
import { handler as heartbeat } from '../../../src/handlers/12-heartbeat.js';
import { handler as leaveGroup } from '../../../src/handlers/13-leave-group.js';
import { handler as syncGroup } from '../../../src/handlers/14-sync-group.js';
import { handler as offsetCommit } from '../../../src/handlers/08-offset-commit.js';
import { handler as offsetFetch } from '../../../src/handlers/09-offset-fetch.js';
import { handler as listGroups } from '../../../src/handlers/16-list-groups.js';
import { handler as describeGroups } from '../../../src/handlers/15-describe-groups.js';
import { handler as deleteGroups } from '../../../src/handlers/42-delete-groups.js';
import { handler as offsetDelete } from '../../../src/handlers/47-offset-delete.js';
import type { BrokerContext } from '../../../src/context.js';
import { call, testCluster, callError, testCoordinator, versions, type TestCoordinator } from './fixtures.js';
import { assignment, settle, subscription } from './fakes.js';

/** Same version family a client would use for the other group APIs alongside JoinGroup v`jv`. */
const family = (jv: number) => ({ sync: Math.min(jv, 5), hb: Math.min(jv, 4), leave: Math.min(jv, 5), commit: Math.min(jv, 9), fetch: Math.min(jv, 9) });

/** A member joins (handling MEMBER_ID_REQUIRED), with the initial delay run out. */
async function joinMember(t: TestCoordinator, groupId: string, version: number, topics = ['t'], clientId = 'consumer', groupInstanceId: string | null = null) {
  const req = {
    groupId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    memberId: '',
    groupInstanceId,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(topics) }],
  };
  const firstCall = call(joinGroup, version, req, t.broker, clientId);
  await settle();
  t.timers.advance(0);
  let r = await firstCall;
  if (r.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
    assert.ok(version >= 4);
    const p = call(joinGroup, version, { ...req, memberId: r.memberId }, t.broker, clientId);
    await settle();
    t.timers.advance(0);
    r = await p;
  } else {
    assert.equal(r.errorCode, ErrorCode.NONE, `join v${version}`);
  }
  return r;
}

async function stableSingle(t: TestCoordinator, groupId: string, v = 5, topics = ['t']) {
  const j = await joinMember(t, groupId, v, topics);
  assert.equal(j.errorCode, ErrorCode.NONE);
  const s = await call(syncGroup, family(v).sync, { groupId, generationId: j.generationId, memberId: j.memberId, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: assignment({ t: [0, 1] }) }] }, t.broker);
  assert.equal(s.errorCode, ErrorCode.NONE);
  return j;
}

test('FindCoordinator v0–6: this node for groups and transactional ids; batched keys from v4; bad key type', async () => {
  const t = testCoordinator();
  for (const v of versions(findCoordinator)) {
    if (v < 4) {
      const r = await call(findCoordinator, v, { key: 'g', keyType: 0 }, t.broker);
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.deepEqual([r.nodeId, r.host, r.port], [1, 'localhost', 9092]);
      if (v >= 1) {
        assert.equal((await call(findCoordinator, v, { key: 'tx', keyType: 1 }, t.broker)).nodeId, 1);
        const bad = await call(findCoordinator, v, { key: 'x', keyType: 2 }, t.broker);
        assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
        assert.equal(bad.nodeId, -1);
      }
    } else {
      const r = await call(findCoordinator, v, { keyType: 0, coordinatorKeys: ['a', 'b', 'c'] }, t.broker);
      assert.deepEqual(r.coordinators!.map((c) => [c.key, c.nodeId, c.errorCode]), [['a', 1, 0], ['b', 1, 0], ['c', 1, 0]]);
    }
  }
  const err = callError(findCoordinator, 4, { keyType: 0, coordinatorKeys: ['a'] }, t.broker, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(err.coordinators![0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

test('several brokers: every agent names the same coordinator (the shard lease holder); the others answer NOT_COORDINATOR', async () => {
  const agents = await testCluster([1, 2, 3]);
  const owners = new Map<number, number>();
  for (let i = 0; i < 60; i++) {
    const answers = await Promise.all(agents.map((a) => call(findCoordinator, 3, { key: `group-${i}`, keyType: 0 }, a.broker)));
    assert.equal(new Set(answers.map((a) => a.nodeId)).size, 1, 'all agents agree');
    const owner = answers[0].nodeId!;
    owners.set(owner, (owners.get(owner) ?? 0) + 1);
    const shard = agents[0].shards.shardOf(`group-${i}`);
    assert.equal(agents.filter((a) => a.shards.epochOf(shard) !== undefined).map((a) => a.broker.nodeId).join(), String(owner), 'the named agent holds the lease');
    for (const a of agents) {
      const r = await call(heartbeat, 3, { groupId: `group-${i}`, generationId: 1, memberId: 'm' }, a.broker);
      assert.equal(r.errorCode, a.broker.nodeId === owner ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NOT_COORDINATOR);
    }
  }
  assert.equal(owners.size, 3, 'groups spread over every broker');
});

test('JoinGroup/SyncGroup/Heartbeat/LeaveGroup at every JoinGroup version', async () => {
  for (const v of versions(joinGroup)) {
    const t = testCoordinator();
    const f = family(v);
    const groupId = `g${v}`;
    const firstCall = call(joinGroup, v, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, t.broker, 'kafkajs');
    await settle();
    t.timers.advance(0);
    const first = await firstCall;
    let j = first;
    if (v >= 4) {
      assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED, `v${v}`);
      assert.match(first.memberId, /^kafkajs-/);
      const p = call(joinGroup, v, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: first.memberId, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, t.broker, 'kafkajs');
      await settle();
      t.timers.advance(0);
      j = await p;
    } else {
      // v0–3 join at once; the join phase ends when the initial delay (0) runs out.
      assert.equal(first.errorCode, ErrorCode.NONE, `v${v}`);
    }
    assert.equal(j.errorCode, ErrorCode.NONE, `v${v}`);
    assert.equal(j.generationId, 1);
    assert.equal(j.leader, j.memberId);
    assert.equal(j.protocolName, 'range');
    if (v >= 7) assert.equal(j.protocolType, 'consumer');
    assert.equal(j.members.length, 1);
    assert.ok(j.members[0].metadata.equals(subscription(['t'])));

    const sync = await call(syncGroup, f.sync, { groupId, generationId: 1, memberId: j.memberId, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: j.memberId, assignment: assignment({ t: [0] }) }] }, t.broker);
    assert.equal(sync.errorCode, ErrorCode.NONE, `sync v${f.sync}`);
    assert.ok(sync.assignment.equals(assignment({ t: [0] })));
    if (f.sync >= 5) assert.deepEqual([sync.protocolType, sync.protocolName], ['consumer', 'range']);

    assert.equal((await call(heartbeat, f.hb, { groupId, generationId: 1, memberId: j.memberId }, t.broker)).errorCode, ErrorCode.NONE);
    assert.equal((await call(heartbeat, f.hb, { groupId, generationId: 0, memberId: j.memberId }, t.broker)).errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal((await call(heartbeat, f.hb, { groupId, generationId: 1, memberId: 'nobody' }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

    const leave = await call(leaveGroup, f.leave, f.leave >= 3 ? { groupId, members: [{ memberId: j.memberId, groupInstanceId: null }, { memberId: 'ghost', groupInstanceId: null }] } : { groupId, memberId: j.memberId }, t.broker);
    if (f.leave >= 3) assert.deepEqual(leave.members!.map((m) => m.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.equal(leave.errorCode, ErrorCode.NONE);
    assert.equal(t.coordinator.inMemoryState(groupId)?.state, 'Empty');
    assert.equal(t.store.groups.get(groupId)?.generation, 2);
  }
});

test('SyncGroup v5 without protocol type/name is INCONSISTENT_GROUP_PROTOCOL; v0 LeaveGroup reports the member error', async () => {
  const t = testCoordinator();
  const j = await stableSingle(t, 'g');
  const s = await call(syncGroup, 5, { groupId: 'g', generationId: 1, memberId: j.memberId, protocolType: null, protocolName: 'range', assignments: [] }, t.broker);
  assert.equal(s.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const wrong = await call(syncGroup, 5, { groupId: 'g', generationId: 1, memberId: j.memberId, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] }, t.broker);
  assert.equal(wrong.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await call(leaveGroup, 0, { groupId: 'g', memberId: 'ghost' }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await call(leaveGroup, 0, { groupId: 'unknown', memberId: 'ghost' }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await call(joinGroup, 5, { groupId: '', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1, memberId: '', protocolType: 'consumer', protocols: [] }, t.broker)).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await call(joinGroup, 5, { groupId: 'nope', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 1, memberId: 'stale', protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  for (const v of versions(joinGroup)) {
    const e = callError(joinGroup, v, { groupId: 'g', sessionTimeoutMs: 1, memberId: 'm', protocolType: 'consumer', protocols: [] }, t.broker, ErrorCode.NOT_COORDINATOR);
    assert.equal(e.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(e.memberId, 'm');
  }
});

test('OffsetCommit v0–9 then OffsetFetch v0–9: values, leader epochs, metadata, -1 for nothing committed', async () => {
  for (const v of versions(offsetCommit)) {
    const t = testCoordinator();
    t.store.addTopic('t', 4);
    const c = await call(offsetCommit, v, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, committedMetadata: 'hello', commitTimestamp: -1 }, { partitionIndex: 1, committedOffset: 7, committedMetadata: null }] }],
    }, t.broker);
    assert.deepEqual(c.topics[0].partitions.map((p) => p.errorCode), [ErrorCode.NONE, ErrorCode.NONE], `commit v${v}`);
    assert.equal(t.store.calls.commitOffsets, 1, 'one statement');
    const stored = t.store.offsets.get('simple')!;
    assert.equal(stored.get('t\u00000')!.leaderEpoch, v >= 6 ? 3 : -1);
    for (const fv of versions(offsetFetch)) {
      const req = fv >= 8 ? { groups: [{ groupId: 'simple', topics: [{ name: 't', partitionIndexes: [0, 1, 2] }] }] } : { groupId: 'simple', topics: [{ name: 't', partitionIndexes: [0, 1, 2] }] };
      const r = await call(offsetFetch, fv, req, t.broker);
      const parts = fv >= 8 ? r.groups![0].topics[0].partitions : r.topics![0].partitions;
      assert.deepEqual(parts.map((p) => p.committedOffset), [42, 7, -1], `fetch v${fv}`);
      assert.deepEqual(parts.map((p) => p.metadata), ['hello', '', '']);
      if (fv >= 5) assert.deepEqual(parts.map((p) => p.committedLeaderEpoch), [v >= 6 ? 3 : -1, -1, -1]);
      assert.ok(parts.every((p) => p.errorCode === ErrorCode.NONE));
    }
  }
});

test('OffsetCommit: per-partition errors for unknown topics and partitions and oversized metadata; one statement for 100 partitions', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 100);
  const partitions = Array.from({ length: 100 }, (_, i) => ({ partitionIndex: i, committedOffset: i * 10, committedMetadata: '' }));
  const ok = await call(offsetCommit, 8, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions }] }, t.broker);
  assert.ok(ok.topics[0].partitions.every((p) => p.errorCode === ErrorCode.NONE));
  assert.equal(t.store.calls.commitOffsets, 1);
  const r = await call(offsetCommit, 8, {
    groupId: 'g',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    topics: [
      { name: 'missing', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] },
      { name: 't', partitions: [{ partitionIndex: 100, committedOffset: 1, committedMetadata: null }, { partitionIndex: 5, committedOffset: 1, committedMetadata: 'x'.repeat(4097) }, { partitionIndex: 6, committedOffset: 66, committedMetadata: 'x'.repeat(4096) }] },
    ],
  }, t.broker);
  assert.deepEqual(r.topics.map((x) => x.partitions.map((p) => p.errorCode)), [
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE],
  ]);
  assert.equal(t.store.offsets.get('g')!.get('t\u00006')!.offset, 66);
  assert.equal(t.store.offsets.get('g')!.get('t\u00005')!.offset, 50, 'the oversized commit was not stored');
});

test('OffsetCommit generation checks: members, simple consumers, unknown groups (ILLEGAL_GENERATION, v9 GROUP_ID_NOT_FOUND)', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 2);
  const commit = (v: number, groupId: string, generationIdOrMemberEpoch: number, memberId: string) =>
    call(offsetCommit, v, { groupId, generationIdOrMemberEpoch, memberId, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 5, committedMetadata: null }] }] }, t.broker).then((r) => r.topics[0].partitions[0].errorCode);
  assert.equal(await commit(8, 'nogroup', 3, 'm'), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(await commit(9, 'nogroup', 3, 'm'), ErrorCode.GROUP_ID_NOT_FOUND);
  const j = await stableSingle(t, 'g');
  assert.equal(await commit(7, 'g', 1, j.memberId), ErrorCode.NONE);
  assert.equal(await commit(7, 'g', 0, j.memberId), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(await commit(7, 'g', 1, 'other'), ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(await commit(7, 'g', -1, ''), ErrorCode.UNKNOWN_MEMBER_ID, 'a simple commit while the group has members');
  assert.equal(await commit(0, 'g', -1, ''), ErrorCode.UNKNOWN_MEMBER_ID, 'v0 has no generation');
  await call(leaveGroup, 3, { groupId: 'g', members: [{ memberId: j.memberId, groupInstanceId: null }] }, t.broker);
  assert.equal(await commit(2, 'g', -1, ''), ErrorCode.NONE, 'accepted once the group is empty');
  assert.equal(await commit(2, '', -1, ''), ErrorCode.INVALID_GROUP_ID);
});

test('OffsetFetch: all partitions when topics is null (v2+), several groups (v8+), group errors per partition before v2', async () => {
  const t = testCoordinator();
  t.store.addTopic('a', 2);
  t.store.addTopic('b', 1);
  await call(offsetCommit, 7, { groupId: 'g1', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'a', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }, { partitionIndex: 1, committedOffset: 2, committedMetadata: null }] }, { name: 'b', partitions: [{ partitionIndex: 0, committedOffset: 3, committedMetadata: null }] }] }, t.broker);
  const all = await call(offsetFetch, 7, { groupId: 'g1', topics: null, requireStable: true }, t.broker);
  assert.equal(all.errorCode, ErrorCode.NONE);
  assert.deepEqual(all.topics!.map((x) => [x.name, x.partitions.map((p) => p.committedOffset)]), [['a', [1, 2]], ['b', [3]]]);
  const multi = await call(offsetFetch, 9, { groups: [{ groupId: 'g1', memberId: null, memberEpoch: -1, topics: null }, { groupId: 'g2', topics: [{ name: 'a', partitionIndexes: [0] }] }], requireStable: true }, t.broker);
  assert.deepEqual(multi.groups!.map((g) => g.groupId), ['g1', 'g2']);
  assert.equal(multi.groups![0].topics.length, 2);
  assert.equal(multi.groups![1].topics[0].partitions[0].committedOffset, -1);

  const [two] = await testCluster([1, 2]);
  let other = 'x';
  for (let i = 0; ; i++) {
    other = `group-${i}`;
    if ((await call(findCoordinator, 2, { key: other, keyType: 0 }, two.broker)).nodeId === 2) break;
  }
  const v1 = await call(offsetFetch, 1, { groupId: other, topics: [{ name: 'a', partitionIndexes: [0, 1] }] }, two.broker);
  assert.deepEqual(v1.topics![0].partitions.map((p) => p.errorCode), [ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR]);
  const v3 = await call(offsetFetch, 3, { groupId: other, topics: [{ name: 'a', partitionIndexes: [0] }] }, two.broker);
  assert.equal(v3.errorCode, ErrorCode.NOT_COORDINATOR);
  const v8 = await call(offsetFetch, 8, { groups: [{ groupId: other, topics: null }] }, two.broker);
  assert.equal(v8.groups![0].errorCode, ErrorCode.NOT_COORDINATOR);
});

test('concurrent commits of one group are merged into fewer statements, later values winning', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 1);
  t.store.writeDelayMs = 5;
  const commits = Array.from({ length: 20 }, (_, i) =>
    call(offsetCommit, 8, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: i, committedMetadata: null }] }] }, t.broker),
  );
  const results = await Promise.all(commits);
  assert.ok(results.every((r) => r.topics[0].partitions[0].errorCode === ErrorCode.NONE), results.map((r) => r.topics[0].partitions[0].errorCode).join());
  assert.ok(t.store.calls.commitOffsets < 20, `${t.store.calls.commitOffsets} statements`);
  assert.equal(t.store.offsets.get('g')!.get('t\u00000')!.offset, 19);
});

test('a lost database: commits fail per partition with COORDINATOR_NOT_AVAILABLE', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 1);
  t.store.failWrites = new Error('connection terminated');
  const r = await call(offsetCommit, 8, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] }, t.broker);
  assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

test('a commit the database refuses (a value it cannot store) fails with UNKNOWN_SERVER_ERROR, not a retriable coordinator error', async () => {
  // librdkafka holds a commit answered COORDINATOR_NOT_AVAILABLE for up to session.timeout.ms (45 s)
  // waiting for the coordinator to come back; a refused statement would be refused again.
  const t = testCoordinator();
  t.store.addTopic('t', 1);
  t.store.failWrites = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
  const r = await call(offsetCommit, 9, { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: 'a\u0000b' }] }] }, t.broker);
  assert.equal(r.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
});

test('ListGroups v0–5 with state and type filters; DescribeGroups v0–5 with members, metadata and assignments', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 2);
  const j = await stableSingle(t, 'stable-group', 5, ['t']);
  await call(offsetCommit, 7, { groupId: 'offsets-only', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] }, t.broker);
  for (const v of versions(listGroups)) {
    const all = await call(listGroups, v, {}, t.broker);
    assert.deepEqual(all.groups.map((g) => g.groupId), ['offsets-only', 'stable-group'], `v${v}`);
    assert.deepEqual(all.groups.map((g) => g.protocolType), ['', 'consumer']);
    if (v >= 4) {
      assert.deepEqual(all.groups.map((g) => g.groupState), ['Empty', 'Stable']);
      const stable = await call(listGroups, v, { statesFilter: ['stable'] }, t.broker);
      assert.deepEqual(stable.groups.map((g) => g.groupId), ['stable-group']);
    }
    if (v >= 5) {
      assert.equal((await call(listGroups, v, { typesFilter: ['consumer'] }, t.broker)).groups.length, 0);
      assert.equal((await call(listGroups, v, { typesFilter: ['Classic'] }, t.broker)).groups.length, 2);
      assert.deepEqual(all.groups.map((g) => g.groupType), ['classic', 'classic']);
    }
  }
  for (const v of versions(describeGroups)) {
    const r = await call(describeGroups, v, { groups: ['stable-group', 'unknown'], includeAuthorizedOperations: true }, t.broker);
    const [g, u] = r.groups;
    assert.equal(g.errorCode, ErrorCode.NONE);
    assert.equal(g.groupState, 'Stable');
    assert.equal(g.protocolType, 'consumer');
    assert.equal(g.protocolData, 'range');
    assert.equal(g.members.length, 1);
    assert.equal(g.members[0].memberId, j.memberId);
    assert.equal(g.members[0].clientId, 'consumer');
    assert.equal(g.members[0].clientHost, '/127.0.0.1');
    assert.ok(g.members[0].memberMetadata.equals(subscription(['t'])));
    assert.ok(g.members[0].memberAssignment.equals(assignment({ t: [0, 1] })));
    if (v >= 3) assert.equal(g.authorizedOperations, (1 << 3) | (1 << 6) | (1 << 8));
    assert.deepEqual([u.errorCode, u.groupState, u.members.length], [ErrorCode.NONE, 'Dead', 0]);
  }
});

test('DeleteGroups v0–2: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, INVALID_GROUP_ID; deleting removes the offsets', async () => {
  for (const v of versions(deleteGroups)) {
    const t = testCoordinator();
    t.store.addTopic('t', 1);
    const j = await stableSingle(t, 'busy');
    await call(offsetCommit, 7, { groupId: 'idle', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 9, committedMetadata: null }] }] }, t.broker);
    const r = await call(deleteGroups, v, { groupsNames: ['busy', 'idle', 'nope', ''] }, t.broker);
    assert.deepEqual(r.results.map((x) => x.errorCode), [ErrorCode.NON_EMPTY_GROUP, ErrorCode.NONE, ErrorCode.GROUP_ID_NOT_FOUND, ErrorCode.INVALID_GROUP_ID]);
    assert.equal(t.store.offsets.has('idle'), false);
    const f = await call(offsetFetch, 5, { groupId: 'idle', topics: [{ name: 't', partitionIndexes: [0] }] }, t.broker);
    assert.equal(f.topics![0].partitions[0].committedOffset, -1);
    await call(leaveGroup, 3, { groupId: 'busy', members: [{ memberId: j.memberId, groupInstanceId: null }] }, t.broker);
    assert.equal((await call(deleteGroups, v, { groupsNames: ['busy'] }, t.broker)).results[0].errorCode, ErrorCode.NONE);
    assert.equal(t.store.groups.has('busy'), false);
    assert.equal((await call(describeGroups, 0, { groups: ['busy'] }, t.broker)).groups[0].groupState, 'Dead');
  }
});

test('OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for topics active members consume; others deleted; unknown group', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 2);
  t.store.addTopic('old', 1);
  await stableSingle(t, 'g', 5, ['t']);
  await call(offsetCommit, 7, { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: t.coordinator.inMemoryState('g')!.members[0], topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }, { name: 'old', partitions: [{ partitionIndex: 0, committedOffset: 2, committedMetadata: null }] }] }, t.broker);
  const r = await call(offsetDelete, 0, { groupId: 'g', topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }, { name: 'old', partitions: [{ partitionIndex: 0 }] }, { name: 'missing', partitions: [{ partitionIndex: 0 }] }] }, t.broker);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(r.topics.map((x) => x.partitions[0].errorCode), [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual([...t.store.offsets.get('g')!.keys()], ['t\u00000']);
  assert.equal((await call(offsetDelete, 0, { groupId: 'nope', topics: [] }, t.broker)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('after a restart: the group comes back Empty with its last generation; offsets are there; live members rejoin', async () => {
  const t = testCoordinator();
  t.store.addTopic('t', 2);
  const j = await stableSingle(t, 'g', 5, ['t']);
  assert.equal((await call(offsetCommit, 7, { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: j.memberId, topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 77, committedMetadata: 'm' }] }] }, t.broker)).topics[0].partitions[0].errorCode, ErrorCode.NONE);
  await t.coordinator.shutdown();

  const again = testCoordinator({ store: t.store });
  const d = await call(describeGroups, 5, { groups: ['g'] }, again.broker);
  assert.deepEqual([d.groups[0].groupState, d.groups[0].protocolType, d.groups[0].members.length], ['Empty', 'consumer', 0]);
  assert.equal(again.coordinator.inMemoryState('g')?.generationId, 1);
  const f = await call(offsetFetch, 7, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [1] }] }, again.broker);
  assert.equal(f.topics![0].partitions[0].committedOffset, 77);
  assert.equal((await call(heartbeat, 4, { groupId: 'g', generationId: 1, memberId: j.memberId }, again.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const stale = await call(offsetCommit, 7, { groupId: 'g', generationIdOrMemberEpoch: 1, memberId: j.memberId, topics: [{ name: 't', partitions: [{ partitionIndex: 1, committedOffset: 78, committedMetadata: null }] }] }, again.broker);
  assert.equal(stale.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await joinMember(again, 'g', 5)).generationId, 2, 'the generation continues');
});

test('shutdown answers waiting JoinGroups NOT_COORDINATOR and refuses new requests', async () => {
  const t = testCoordinator({ initialDelayMs: 3000 });
  const p = call(joinGroup, 3, { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, t.broker);
  await settle();
  await t.coordinator.shutdown();
  assert.equal((await p).errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal((await call(heartbeat, 3, { groupId: 'g', generationId: 1, memberId: 'm' }, t.broker)).errorCode, ErrorCode.NOT_COORDINATOR);
});

test('errorResponse encodes at every version of every group handler', () => {
  const t = testCoordinator();
  const b: BrokerContext = t.broker;
  for (const v of versions(heartbeat)) assert.equal(callError(heartbeat, v, { groupId: 'g', generationId: 1, memberId: 'm' }, b, 16).errorCode, 16);
  for (const v of versions(syncGroup)) assert.equal(callError(syncGroup, v, { groupId: 'g', generationId: 1, memberId: 'm', assignments: [] }, b, 16).errorCode, 16);
  for (const v of versions(leaveGroup)) assert.equal(callError(leaveGroup, v, v >= 3 ? { groupId: 'g', members: [] } : { groupId: 'g', memberId: 'm' }, b, 16).errorCode, 16);
  for (const v of versions(offsetCommit)) assert.equal(callError(offsetCommit, v, { groupId: 'g', topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] }, b, 16).topics[0].partitions[0].errorCode, 16);
  for (const v of versions(offsetFetch)) {
    const r = callError(offsetFetch, v, v >= 8 ? { groups: [{ groupId: 'g', topics: null }] } : { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] }, b, 16);
    if (v >= 8) assert.equal(r.groups![0].errorCode, 16);
    else if (v >= 2) assert.equal(r.errorCode, 16);
    else assert.equal(r.topics![0].partitions[0].errorCode, 16);
  }
  for (const v of versions(listGroups)) assert.equal(callError(listGroups, v, {}, b, 16).errorCode, 16);
  for (const v of versions(describeGroups)) assert.equal(callError(describeGroups, v, { groups: ['g'] }, b, 16).groups[0].errorCode, 16);
  for (const v of versions(deleteGroups)) assert.equal(callError(deleteGroups, v, { groupsNames: ['g'] }, b, 16).results[0].errorCode, 16);
  assert.equal(callError(offsetDelete, 0, { groupId: 'g', topics: [] }, b, 16).errorCode, 16);
  for (const v of versions(findCoordinator)) callError(findCoordinator, v, v >= 4 ? { coordinatorKeys: ['g'] } : { key: 'g' }, b, 15);
});

test('advertised version ranges start at 0 where old librdkafka checks for them', () => {
  for (const h of [findCoordinator, joinGroup, syncGroup, heartbeat, leaveGroup, offsetCommit, offsetFetch]) assert.equal(h.minVersion, 0);
  assert.deepEqual([findCoordinator, joinGroup, syncGroup, heartbeat, leaveGroup, offsetCommit, offsetFetch, listGroups, describeGroups, deleteGroups, offsetDelete].map((h) => h.maxVersion), [6, 9, 5, 4, 5, 9, 9, 5, 5, 2, 0]);
});

test('rebalance timeout 0 (kafkajs Broker.joinGroup without one): the member still has its session timeout to send SyncGroup', async () => {
  // kafkajs's broker/heartbeat and broker/offsetFetch specs join this way and sync right after; the
  // member used to be removed by a 0 ms pending-sync deadline first (UNKNOWN_MEMBER_ID on SyncGroup).
  const t = testCoordinator();
  const req = (memberId: string) => ({ groupId: 'g0', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 0, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'r', metadata: subscription(['t']) }] });
  const first = await call(joinGroup, 5, req(''), t.broker);
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  const p = call(joinGroup, 5, req(first.memberId), t.broker);
  await settle();
  t.timers.advance(0);
  const j = await p;
  assert.equal(j.errorCode, ErrorCode.NONE);
  t.timers.advance(100);
  await settle();
  const s = await call(syncGroup, 3, { groupId: 'g0', generationId: j.generationId, memberId: j.memberId, assignments: [{ memberId: j.memberId, assignment: assignment({ t: [0] }) }] }, t.broker);
  assert.equal(s.errorCode, ErrorCode.NONE);
  assert.equal((await call(heartbeat, 3, { groupId: 'g0', generationId: j.generationId, memberId: j.memberId }, t.broker)).errorCode, ErrorCode.NONE);
});
