// Coordinator shards on fakes with one manual clock (also the leases' database clock): placement over
// membership leases, handoff when an agent joins or stops, self-fencing when renewals fail, stale writes
// refused — and at every step, no shard (so no group) has two agents acting as its coordinator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import { shardFor, javaStringHashCode } from '../../../src/coordinator/index.js';
import { handler as findCoordinator } from '../../../src/handlers/10-find-coordinator.js';
import { handler as joinGroup } from '../../../src/handlers/11-join-group.js';
import { handler as heartbeat } from '../../../src/handlers/12-heartbeat.js';
import { handler as offsetCommit } from '../../../src/handlers/08-offset-commit.js';
import { handler as offsetFetch } from '../../../src/handlers/09-offset-fetch.js';
import { handler as syncGroup } from '../../../src/handlers/14-sync-group.js';
import { call, testCluster, testCoordinator, type TestCoordinator } from './fixtures.js';
import { assignment, FakeTimers, MemoryGroupStore, settle, subscription } from './fakes.js';

const TTL = 3000;

/** Every shard has at most one agent that believes it coordinates it; returns the owner per shard. */
function assertSingleOwners(ts: TestCoordinator[], shardCount = 50): Map<number, number> {
  const owners = new Map<number, number>();
  for (let shard = 0; shard < shardCount; shard++) {
    const holding = ts.filter((t) => t.shards.epochOf(shard) !== undefined).map((t) => t.broker.nodeId);
    assert.ok(holding.length <= 1, `shard ${shard} coordinated by nodes ${holding.join(', ')}`);
    if (holding.length === 1) owners.set(shard, holding[0]);
  }
  return owners;
}

/** Advances the shared clock in small steps (each runs due placement cycles), checking single ownership after every step. */
async function run(ts: TestCoordinator[], ms: number, step = 100): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    ts[0].timers.advance(step);
    await settle(20);
    assertSingleOwners(ts);
  }
}

/** Awaits `p` while the shared clock moves on (group timers, placement cycles), at most `maxMs`. */
async function settled<T>(ts: TestCoordinator[], p: Promise<T>, maxMs = 5000): Promise<T> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let t = 0; t < maxMs && !done; t += 100) await run(ts, 100);
  return p;
}

test("shardFor is Kafka's abs(hashCode) % n, over UTF-16 code units", () => {
  assert.equal(javaStringHashCode('hello'), 99162322);
  assert.equal(shardFor('hello', 50), 22);
  assert.equal(javaStringHashCode('polygenelubricants'), -(2 ** 31), 'Integer.MIN_VALUE');
  assert.equal(shardFor('polygenelubricants', 50), 0, 'Utils.abs(MIN_VALUE) is 0');
  assert.equal(javaStringHashCode('\u{1F600}'), 0xd83d * 31 + 0xde00, 'surrogate pairs count as two chars');
  for (const k of ['', 'a', 'group-1', 'ünïcødé']) assert.ok(shardFor(k, 7) >= 0 && shardFor(k, 7) < 7);
});

test('three agents: every shard has exactly one coordinator, FindCoordinator agrees everywhere, shards spread', async () => {
  const ts = await testCluster([0, 1, 2], { leaseTtlMs: TTL });
  const owners = assertSingleOwners(ts);
  assert.equal(owners.size, 50);
  const per = [0, 1, 2].map((n) => [...owners.values()].filter((o) => o === n).length);
  assert.ok(Math.min(...per) >= 8, `shards per agent ${per.join('/')}`);
  for (let i = 0; i < 30; i++) {
    const answers = await Promise.all(ts.map((t) => call(findCoordinator, 3, { key: `g${i}`, keyType: 0 }, t.broker)));
    assert.equal(new Set(answers.map((a) => a.nodeId)).size, 1);
    assert.equal(answers[0].nodeId, owners.get(shardFor(`g${i}`, 50)));
  }
  // Transactional ids use the same shards.
  const txn = await call(findCoordinator, 3, { key: 'tx-1', keyType: 1 }, ts[2].broker);
  assert.equal(txn.nodeId, owners.get(shardFor('tx-1', 50)));
});

test('an agent joins: the shards intended for it are handed off (never two coordinators at once), with the next epoch', async () => {
  const store = new MemoryGroupStore();
  const timers = new FakeTimers();
  const a = testCoordinator({ nodeId: 0, store, timers, leaseTtlMs: TTL });
  await a.coordinator.start();
  await run([a], 1000);
  assert.equal(assertSingleOwners([a]).size, 50, 'alone it holds every shard');
  const epochsBefore = new Map([...Array(50).keys()].map((s) => [s, a.shards.epochOf(s)!]));

  const b = testCoordinator({ nodeId: 1, store, timers, leaseTtlMs: TTL });
  const started = b.coordinator.start();
  await run([a, b], 2000);
  await started;
  const owners = assertSingleOwners([a, b]);
  assert.equal(owners.size, 50);
  const moved = [...owners].filter(([, n]) => n === 1).map(([s]) => s);
  assert.ok(moved.length >= 15 && moved.length <= 35, `${moved.length} shards moved`);
  for (const s of moved) assert.equal(b.shards.epochOf(s), epochsBefore.get(s)! + 1, `shard ${s}: next epoch`);
  assert.ok(store.announced > 0, 'the release was announced to the other agents');
});

test('handoff answers a waiting JoinGroup NOT_COORDINATOR, and the old owner\'s writes under its epoch are refused', async () => {
  const store = new MemoryGroupStore();
  const timers = new FakeTimers();
  store.addTopic('t', 1);
  const a = testCoordinator({ nodeId: 0, store, timers, leaseTtlMs: TTL, initialDelayMs: 0 });
  await a.coordinator.start();
  await run([a], 500);
  // A group whose shard will move to node 1 once it joins.
  const b = testCoordinator({ nodeId: 1, store, timers, leaseTtlMs: TTL });
  let groupId = '';
  for (let i = 0; ; i++) {
    groupId = `grp-${i}`;
    const shard = shardFor(groupId, 50);
    // Node 1 will win it: check with a scratch two-agent placement.
    if ((await import('../../../src/coordinator/placement.js')).coordinatorNodeFor(`coordinator-shard:${shard}`, [0, 1]) === 1) break;
  }
  const join = (memberId: string) =>
    call(joinGroup, 5, { groupId, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 60_000, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, a.broker);
  const first = await settled([a], join(''));
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  const j1 = await settled([a], join(first.memberId));
  assert.equal(j1.errorCode, ErrorCode.NONE);
  const s1 = await settled([a], call(syncGroup, 3, { groupId, generationId: j1.generationId, memberId: j1.memberId, assignments: [{ memberId: j1.memberId, assignment: assignment({ t: [0] }) }] }, a.broker));
  assert.equal(s1.errorCode, ErrorCode.NONE);
  const commit = (t: TestCoordinator, offset: number) =>
    call(offsetCommit, 8, { groupId, generationIdOrMemberEpoch: j1.generationId, memberId: j1.memberId, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: offset, committedMetadata: null }] }] }, t.broker);
  assert.equal((await commit(a, 5)).topics[0].partitions[0].errorCode, ErrorCode.NONE);

  // A second member's JoinGroup waits for the rebalance (the first member has not rejoined yet).
  const second = await settled([a], join(''));
  assert.equal(second.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  const waiting = join(second.memberId);
  await settle(20);
  const fenceA = { shard: shardFor(groupId, 50), agentId: a.agentId, epoch: a.shards.epochOf(shardFor(groupId, 50))! };

  await b.coordinator.start();
  await run([a, b], 2000);
  const shard = shardFor(groupId, 50);
  assert.equal(a.shards.epochOf(shard), undefined);
  assert.equal(b.shards.epochOf(shard), fenceA.epoch + 1);
  assert.equal((await waiting).errorCode, ErrorCode.NOT_COORDINATOR, 'the waiting JoinGroup is answered NOT_COORDINATOR');
  assert.equal(a.coordinator.inMemoryState(groupId), undefined, 'unloaded from the old owner');

  // The old owner refuses group requests; a write carrying its old epoch is refused by the store.
  assert.equal((await call(heartbeat, 3, { groupId, generationId: j1.generationId, memberId: j1.memberId }, a.broker)).errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal((await commit(a, 99)).topics[0].partitions[0].errorCode, ErrorCode.NOT_COORDINATOR);
  await assert.rejects(store.commitOffsets(groupId, [{ topic: 't', partitionId: 0, offset: 98, leaderEpoch: -1, metadata: null }], fenceA), (e: { code?: number }) => e.code === ErrorCode.NOT_COORDINATOR);
  // The new owner serves the committed offset.
  const f = await call(offsetFetch, 7, { groupId, topics: [{ name: 't', partitionIndexes: [0] }] }, b.broker);
  assert.equal(f.topics![0].partitions[0].committedOffset, 5);
  const found = await Promise.all([a, b].map((t) => call(findCoordinator, 3, { key: groupId, keyType: 0 }, t.broker)));
  assert.deepEqual(found.map((x) => x.nodeId), [1, 1]);
});

test('renewals failing: the agent stops coordinating before its leases expire; the other takes over only after expiry', async () => {
  const [a, b] = await testCluster([0, 1], { leaseTtlMs: TTL });
  const ownersBefore = assertSingleOwners([a, b]);
  const aShards = [...ownersBefore].filter(([, n]) => n === 0).map(([s]) => s);
  assert.ok(aShards.length > 0);
  // Agent 0 loses the database for its leases (its group writes would fail the same way).
  const storeOfA = a.store;
  const lost = new Error('connection terminated');
  // Only a's lease statements fail: wrap its lease store.
  const inner = a.shards as unknown as { opts: { store: Record<string, unknown> } };
  const real = inner.opts.store;
  inner.opts.store = {
    ...real,
    renewCoordinatorLeases: async () => { throw lost; },
    acquireCoordinatorLeases: async () => { throw lost; },
    releaseCoordinatorLeases: async () => { throw lost; },
    listCoordinatorLeases: async () => { throw lost; },
  };
  const lastRenewal = a.timers.now();
  const dbExpiry = Math.max(...aShards.map((s) => storeOfA.leases.get(s)!.leaseExpiresAt));
  let fencedAt: number | undefined;
  let takenAt: number | undefined;
  for (let t = 0; t < 2 * TTL; t += 100) {
    await run([a, b], 100);
    const now = a.timers.now();
    if (fencedAt === undefined && aShards.every((s) => a.shards.epochOf(s) === undefined)) fencedAt = now;
    if (takenAt === undefined && aShards.every((s) => b.shards.epochOf(s) !== undefined)) takenAt = now;
  }
  assert.ok(fencedAt !== undefined && takenAt !== undefined, `fenced ${fencedAt}, taken ${takenAt}`);
  assert.ok(fencedAt! < dbExpiry, `self-fenced at +${fencedAt! - lastRenewal} ms, lease expires at +${dbExpiry - lastRenewal} ms`);
  assert.ok(takenAt! >= dbExpiry, 'taken over only once expired');
  assert.ok(takenAt! - dbExpiry <= 1500, `taken over ${takenAt! - dbExpiry} ms after expiry`);
  for (const s of aShards) assert.equal(b.shards.epochOf(s), storeOfA.leases.get(s)!.epoch, 'the lease row is b\'s');
});

test('shutdown hands every shard off at once (membership released), not after the TTL', async () => {
  const [a, b] = await testCluster([0, 1], { leaseTtlMs: 30_000 });
  const aShards = [...assertSingleOwners([a, b])].filter(([, n]) => n === 0).map(([s]) => s);
  await a.coordinator.shutdown();
  assert.ok(aShards.every((s) => a.shards.epochOf(s) === undefined));
  // b's next cycles (1 s each) take them: well within the 30 s TTL.
  await run([a, b], 2100);
  assert.ok(aShards.every((s) => b.shards.epochOf(s) !== undefined), 'taken over after shutdown');
  assert.equal((await call(findCoordinator, 3, { key: 'anything', keyType: 0 }, b.broker)).nodeId, 1);
});

test('a group loaded under an old epoch is read again after the shard comes back', async () => {
  const t = testCoordinator({ leaseTtlMs: TTL });
  t.store.addTopic('t', 1);
  await t.coordinator.start();
  const groupId = 'g-reload';
  await t.store.saveGroup({ groupId, state: 'Empty', protocolType: 'consumer', protocolName: null, generation: 4, leaderId: null, members: [], createdAt: 0, updatedAt: 0 });
  assert.equal((await call(heartbeat, 3, { groupId, generationId: 4, memberId: 'm' }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(t.coordinator.inMemoryState(groupId)?.generationId, 4);
  // The lease lapses (renewals fail for longer than the TTL), then comes back; meanwhile the group changed.
  t.store.failLeases = new Error('down');
  await run([t], TTL + 500);
  assert.equal(t.coordinator.inMemoryState(groupId), undefined, 'unloaded when self-fenced');
  await t.store.saveGroup({ groupId, state: 'Empty', protocolType: 'consumer', protocolName: null, generation: 9, leaderId: null, members: [], createdAt: 0, updatedAt: 0 });
  t.store.failLeases = undefined;
  await run([t], 1500);
  assert.equal((await call(heartbeat, 3, { groupId, generationId: 9, memberId: 'm' }, t.broker)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(t.coordinator.inMemoryState(groupId)?.generationId, 9);
});

/** A group id whose shard rendezvous placement gives to `node` among `nodes`. */
async function groupPlacedOn(node: number, nodes: number[], prefix: string): Promise<string> {
  const { coordinatorNodeFor } = await import('../../../src/coordinator/placement.js');
  for (let i = 0; ; i++) if (coordinatorNodeFor(`coordinator-shard:${shardFor(`${prefix}-${i}`, 50)}`, nodes) === node) return `${prefix}-${i}`;
}

const joinAt = (t: TestCoordinator, groupId: string) =>
  call(joinGroup, 5, { groupId, sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 60_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] }, t.broker);

test('handoff: once the old owner released, the new one serves the group at once, not after its next cycle (no NOT_COORDINATOR ping-pong)', async () => {
  const store = new MemoryGroupStore();
  const timers = new FakeTimers();
  const brokers = [0, 1].map((nodeId) => ({ nodeId, host: `h${nodeId}`, port: 9000 + nodeId, rack: null }));
  const a = testCoordinator({ nodeId: 0, brokers, store, timers, leaseTtlMs: TTL });
  await a.coordinator.start();
  await run([a], 1000);
  const groupId = await groupPlacedOn(1, [0, 1], 'moving');
  const shard = shardFor(groupId, 50);
  // b's cycles run half a cycle after a's: a hands off on its cycle, b's view is then 500 ms old.
  await run([a], 500);
  const b = testCoordinator({ nodeId: 1, brokers, store, timers, leaseTtlMs: TTL });
  await b.coordinator.start();
  let released = false;
  for (let t = 0; t < 3000 && !released; t += 100) {
    await run([a, b], 100);
    released = a.shards.state(shard).kind === 'unowned' && b.shards.state(shard).kind === 'unowned';
  }
  assert.ok(released, 'a released the shard before b\'s cycle took it');
  const found = await Promise.all([a, b].map((t) => call(findCoordinator, 3, { key: groupId, keyType: 0 }, t.broker)));
  assert.deepEqual(found.map((f) => f.nodeId), [1, 1], 'both name the new owner');
  assert.equal((await joinAt(b, groupId)).errorCode, ErrorCode.MEMBER_ID_REQUIRED, 'served by the new owner');
  assert.equal(b.shards.epochOf(shard), store.leases.get(shard)!.epoch);
  assertSingleOwners([a, b]);
});

test('a crashed agent: once its leases expired, the intended new owner serves its groups on the first request, not after its next cycle', async () => {
  const store = new MemoryGroupStore();
  const timers = new FakeTimers();
  const brokers = [0, 1].map((nodeId) => ({ nodeId, host: `h${nodeId}`, port: 9000 + nodeId, rack: null }));
  const a = testCoordinator({ nodeId: 0, brokers, store, timers, leaseTtlMs: TTL });
  await a.coordinator.start();
  await run([a], 500);
  const b = testCoordinator({ nodeId: 1, brokers, store, timers, leaseTtlMs: TTL });
  await b.coordinator.start();
  await run([a, b], 3000);
  const groupId = await groupPlacedOn(0, [0, 1], 'orphan');
  const shard = shardFor(groupId, 50);
  assert.ok(a.shards.epochOf(shard) !== undefined);
  // a "crashes": nothing of it reaches the database any more.
  const inner = a.shards as unknown as { opts: { store: Record<string, unknown> } };
  const dead = async () => {
    throw new Error('killed');
  };
  inner.opts.store = { ...inner.opts.store, renewCoordinatorLeases: dead, acquireCoordinatorLeases: dead, releaseCoordinatorLeases: dead, listCoordinatorLeases: dead };
  const expiry = store.leases.get(shard)!.leaseExpiresAt;
  const member = store.leases.get(-1)!.leaseExpiresAt;
  assert.equal(member, expiry, 'membership and shard leases are renewed together');
  while (timers.now() < expiry) await run([a, b], 100);
  // b's last cycle read the cluster while a was still live; a request now needs no cycle of b's.
  assert.equal(b.shards.state(shard).kind, 'unowned', 'not taken by a cycle yet');
  assert.equal((await call(findCoordinator, 3, { key: groupId, keyType: 0 }, b.broker)).nodeId, 1);
  assert.equal((await joinAt(b, groupId)).errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.equal(b.shards.epochOf(shard), store.leases.get(shard)!.epoch);
});

test('an announced change (an agent stopped and released its shards) is acted on at once: trigger() runs a cycle now', async () => {
  const [a, b] = await testCluster([0, 1], { leaseTtlMs: 30_000 });
  const bShards = [...assertSingleOwners([a, b])].filter(([, n]) => n === 1).map(([s]) => s);
  assert.ok(bShards.length > 0);
  await b.coordinator.shutdown();
  // Well within a cycle (1 s), only the trigger (the agent's cluster change notification) makes a look again.
  a.shards.trigger();
  a.shards.trigger(); // a burst of notifications: one cycle
  await run([a, b], 100);
  assert.ok(bShards.every((s) => a.shards.epochOf(s) !== undefined), 'taken over without waiting for a cycle');
  assert.equal((await call(findCoordinator, 3, { key: 'anything', keyType: 0 }, a.broker)).nodeId, 0);
});
