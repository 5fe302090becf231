// The classic group state machine on a fake clock: join/sync/heartbeat/leave, initial delay, session
// and rebalance timeouts, protocol votes, leader election, static membership, persistence outcomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/index.js';
import { silentLogger } from '../../../src/logger.js';
import {
  ClassicGroup,
  type GroupConfig,
  type JoinParams,
  type JoinResult,
  type PersistRequest,
  type Protocol,
  type SyncResult,
} from '../../../src/coordinator/index.js';
import { FakeTimers, assignment, subscription } from './fakes.js';

const SESSION = 10_000;
const REBALANCE = 30_000;

interface Capture<T> {
  value: T | undefined;
  cb: (v: T) => void;
}

/** Not answered yet (a function, so the compiler does not narrow `value` for later lines). */
const isPending = (c: { value: unknown }): boolean => c.value === undefined;

function capture<T>(): Capture<T> {
  const c: Capture<T> = { value: undefined, cb: (v) => {
    assert.ok(isPending(c), 'answered twice');
    c.value = v;
  } };
  return c;
}

function harness(config: Partial<GroupConfig> = {}) {
  const timers = new FakeTimers();
  const persists: PersistRequest[] = [];
  const h = {
    timers,
    persists,
    /** When false, persist requests wait for h.finishPersist(). */
    autoPersist: true,
    persistError: undefined as Error | undefined,
    group: undefined as unknown as ClassicGroup,
    finishPersist(err?: Error) {
      const req = persists.find((p) => !(p as { finished?: boolean }).finished)!;
      (req as { finished?: boolean }).finished = true;
      req.done(err);
    },
    join(over: Partial<JoinParams>): Capture<JoinResult> {
      const c = capture<JoinResult>();
      h.group.join(joinParams(over), c.cb);
      return c;
    },
    sync(memberId: string, generationId: number, assignments: Record<string, Buffer> = {}, groupInstanceId: string | null = null): Capture<SyncResult> {
      const c = capture<SyncResult>();
      h.group.sync({ memberId, groupInstanceId, generationId, protocolType: null, protocolName: null, assignments: new Map(Object.entries(assignments)) }, c.cb);
      return c;
    },
  };
  let n = 0;
  h.group = new ClassicGroup('g', {
    timers,
    log: silentLogger(),
    config: { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 60_000, newMemberJoinTimeoutMs: 300_000, ...config },
    persist(req) {
      persists.push(req);
      if (h.autoPersist) {
        (req as { finished?: boolean }).finished = true;
        req.done(h.persistError);
      }
    },
    newMemberId: (prefix) => `${prefix}-${++n}`,
  });
  return h;
}

const range = (topics = ['t']): Protocol => ({ name: 'range', metadata: subscription(topics) });
const rr = (topics = ['t']): Protocol => ({ name: 'roundrobin', metadata: subscription(topics) });

function joinParams(over: Partial<JoinParams>): JoinParams {
  return {
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: REBALANCE,
    protocolType: 'consumer',
    protocols: [range()],
    requireKnownMemberId: false,
    ...over,
  };
}

type H = ReturnType<typeof harness>;

/** Members join (dynamic unless an instance id is given) in one initial rebalance; returns their join answers. */
function form(h: H, clients: Array<{ clientId: string; groupInstanceId?: string; protocols?: Protocol[] }>): JoinResult[] {
  const caps = clients.map((c) => h.join({ clientId: c.clientId, groupInstanceId: c.groupInstanceId ?? null, protocols: c.protocols ?? [range()] }));
  h.timers.advance(10_000);
  return caps.map((c, i) => {
    assert.ok(c.value, `member ${clients[i].clientId} got no join answer`);
    return c.value;
  });
}

/** Everyone syncs; the leader hands each member `assignment({t: [i]})`. */
function stabilize(h: H, joined: JoinResult[]): SyncResult[] {
  const leader = joined.find((j) => j.memberId === j.leader)!;
  const assignments = Object.fromEntries(joined.map((j, i) => [j.memberId, assignment({ t: [i] })]));
  const caps = joined.map((j) => (j === leader ? undefined : h.sync(j.memberId, j.generationId)));
  const lc = h.sync(leader.memberId, leader.generationId, assignments);
  assert.equal(h.group.stateName, 'Stable');
  return joined.map((_, i) => (caps[i] ?? lc).value!);
}

test('first join v4+: MEMBER_ID_REQUIRED, rejoin with the id, leader of generation 1, assignment stored before Stable', () => {
  const h = harness();
  const first = h.join({ requireKnownMemberId: true, clientId: 'rdkafka' });
  assert.equal(first.value?.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.equal(first.value?.memberId, 'rdkafka-1');
  assert.equal(h.group.stateName, 'Empty');

  const second = h.join({ memberId: 'rdkafka-1', requireKnownMemberId: true, clientId: 'rdkafka' });
  assert.equal(h.group.stateName, 'PreparingRebalance');
  assert.ok(isPending(second), 'the join phase completes on the initial-delay timer');
  h.timers.advance(0);
  const j = second.value!;
  assert.equal(j.errorCode, ErrorCode.NONE);
  assert.equal(j.generationId, 1);
  assert.equal(j.leader, 'rdkafka-1');
  assert.equal(j.protocolName, 'range');
  assert.equal(j.protocolType, 'consumer');
  assert.deepEqual(j.members.map((m) => m.memberId), ['rdkafka-1']);
  assert.ok(j.members[0].metadata.equals(subscription(['t'])));
  assert.equal(h.group.stateName, 'CompletingRebalance');

  h.autoPersist = false;
  const s = h.sync('rdkafka-1', 1, { 'rdkafka-1': assignment({ t: [0, 1] }) });
  assert.equal(h.persists.length, 1);
  assert.equal(h.persists[0].record.state, 'Stable');
  assert.equal(h.persists[0].record.generation, 1);
  assert.equal(h.group.stateName, 'CompletingRebalance', 'not Stable before the write');
  assert.ok(isPending(s));
  h.finishPersist();
  assert.equal(h.group.stateName, 'Stable');
  assert.equal(s.value?.errorCode, ErrorCode.NONE);
  assert.ok(s.value?.assignment.equals(assignment({ t: [0, 1] })));
  const stored = h.persists[0].record.members as Array<{ memberId: string; assignment: string; subscription: string; clientHost: string }>;
  assert.equal(stored[0].memberId, 'rdkafka-1');
  assert.equal(stored[0].clientHost, '/127.0.0.1');
  assert.ok(Buffer.from(stored[0].assignment, 'base64').equals(assignment({ t: [0, 1] })));
  assert.ok(Buffer.from(stored[0].subscription, 'base64').equals(subscription(['t'])));
});

test('a pending member id that never comes back is forgotten after the session timeout', () => {
  const h = harness();
  const first = h.join({ requireKnownMemberId: true });
  h.timers.advance(SESSION);
  const late = h.join({ memberId: first.value!.memberId, requireKnownMemberId: true });
  assert.equal(late.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('group.initial.rebalance.delay.ms holds the first join phase while members keep arriving', () => {
  const h = harness({ initialRebalanceDelayMs: 3000 });
  const a = h.join({ clientId: 'a' });
  h.timers.advance(1000);
  const b = h.join({ clientId: 'b' });
  h.timers.advance(2000); // t=3000: b arrived during the delay → wait another delay
  assert.ok(isPending(a));
  h.timers.advance(500);
  const c = h.join({ clientId: 'c' });
  h.timers.advance(2499); // t=5999
  assert.ok(isPending(a));
  h.timers.advance(1); // t=6000: c arrived → once more
  assert.ok(isPending(a));
  h.timers.advance(2999);
  assert.ok(isPending(a));
  h.timers.advance(1); // t=9000: nobody new
  for (const x of [a, b, c]) assert.equal(x.value?.generationId, 1);
  assert.equal(a.value?.leader, 'a-1');
  assert.equal(a.value?.members.length, 3);
  assert.equal(b.value?.members.length, 0, 'followers get no member list');
});

test('the initial delay never exceeds the rebalance timeout', () => {
  const h = harness({ initialRebalanceDelayMs: 3000 });
  const a = h.join({ clientId: 'a', rebalanceTimeoutMs: 5000 });
  for (let t = 0; t < 5000; t += 1000) {
    h.join({ clientId: `x${t}`, rebalanceTimeoutMs: 5000 });
    h.timers.advance(1000);
  }
  h.timers.advance(1000); // 6000 = delay + (timeout - delay) rounded up to a delay step
  assert.equal(a.value?.generationId, 1);
});

test('three members; one leaves; the other two rejoin and the group is stable at generation 2', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }, { clientId: 'c' }]);
  assert.deepEqual(joined.map((j) => j.generationId), [1, 1, 1]);
  const synced = stabilize(h, joined);
  assert.ok(synced[1].assignment.equals(assignment({ t: [1] })));

  const [a, b, c] = joined.map((j) => j.memberId);
  const left = h.group.leave([{ memberId: b, groupInstanceId: null }]);
  assert.deepEqual(left.members.map((m) => m.errorCode), [ErrorCode.NONE]);
  assert.equal(h.group.stateName, 'PreparingRebalance');
  assert.equal(h.group.heartbeat(a, null, 1), ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(h.group.heartbeat(b, null, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  const ra = h.join({ memberId: a });
  assert.ok(isPending(ra));
  const rc = h.join({ memberId: c });
  // Everyone known has rejoined: the join phase ends at once.
  assert.equal(ra.value?.generationId, 2);
  assert.equal(rc.value?.generationId, 2);
  assert.equal(ra.value?.leader, a);
  assert.deepEqual(ra.value?.members.map((m) => m.memberId), [a, c]);
  stabilize(h, [ra.value!, rc.value!]);
  assert.equal(h.group.heartbeat(c, null, 2), ErrorCode.NONE);
  assert.equal(h.group.heartbeat(c, null, 1), ErrorCode.ILLEGAL_GENERATION);
});

test('a member that stops heartbeating is expired after its session timeout and the group rebalances', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  stabilize(h, joined);
  const [a, b] = joined.map((j) => j.memberId);
  for (let t = 0; t < SESSION; t += 3000) {
    h.timers.advance(3000);
    if (h.group.stateName === 'Stable') assert.equal(h.group.heartbeat(a, null, 1), ErrorCode.NONE);
  }
  assert.equal(h.group.hasMember(b), false);
  assert.equal(h.group.stateName, 'PreparingRebalance');
  assert.equal(h.group.heartbeat(a, null, 1), ErrorCode.REBALANCE_IN_PROGRESS);
  const ra = h.join({ memberId: a });
  assert.equal(ra.value?.generationId, 2);
  assert.deepEqual(ra.value?.members.map((m) => m.memberId), [a]);
});

test('the rebalance timeout bounds the join phase: a member that does not rejoin is dropped', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  stabilize(h, joined);
  const [a, b] = joined.map((j) => j.memberId);
  // The leader rejoining a Stable group starts a rebalance.
  const ra = h.join({ memberId: a });
  assert.equal(h.group.stateName, 'PreparingRebalance');
  for (let t = 0; t < REBALANCE - 3000; t += 3000) {
    h.timers.advance(3000);
    assert.equal(h.group.heartbeat(b, null, 1), ErrorCode.REBALANCE_IN_PROGRESS, 'b heartbeats but never rejoins');
  }
  assert.ok(isPending(ra));
  h.timers.advance(3000);
  assert.equal(ra.value?.generationId, 2);
  assert.deepEqual(ra.value?.members.map((m) => m.memberId), [a]);
  assert.equal(h.group.heartbeat(b, null, 1), ErrorCode.UNKNOWN_MEMBER_ID);
});

test('a leader that does not rejoin is replaced by a member that did', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  stabilize(h, joined);
  const [a, b] = joined.map((j) => j.memberId);
  assert.equal(joined[0].leader, a);
  // b changes its subscription: a rebalance; only b rejoins.
  const rb = h.join({ memberId: b, protocols: [range(['t', 'u'])] });
  h.timers.advance(REBALANCE);
  assert.equal(rb.value?.generationId, 2);
  assert.equal(rb.value?.leader, b);
  assert.deepEqual(rb.value?.members.map((m) => m.memberId), [b]);
  assert.equal(h.group.hasMember(a), false);
});

test('a new member joining during CompletingRebalance restarts the rebalance; waiting syncs get REBALANCE_IN_PROGRESS', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a, b] = joined.map((j) => j.memberId);
  const sb = h.sync(b, 1);
  assert.ok(isPending(sb), 'the follower waits for the leader');
  const c = h.join({ clientId: 'c' });
  assert.equal(sb.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(h.group.stateName, 'PreparingRebalance');
  assert.equal(h.sync(a, 1).value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const ra = h.join({ memberId: a });
  const rb = h.join({ memberId: b });
  for (const x of [ra, rb, c]) assert.equal(x.value?.generationId, 2);
  assert.equal(ra.value?.members.length, 3);
});

test('a member that repeats its join during CompletingRebalance gets the current generation again', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const again = h.join({ memberId: joined[0].memberId });
  assert.equal(again.value?.generationId, 1);
  assert.equal(again.value?.members.length, 2, 'the leader gets the members again');
  const follower = h.join({ memberId: joined[1].memberId });
  assert.equal(follower.value?.members.length, 0);
  assert.equal(h.group.stateName, 'CompletingRebalance');
});

test('protocol selection: only protocols every member supports, then the most first choices', () => {
  const h1 = harness({ initialRebalanceDelayMs: 100 });
  const j1 = form(h1, [
    { clientId: 'a', protocols: [range(), rr()] },
    { clientId: 'b', protocols: [rr(), range()] },
    { clientId: 'c', protocols: [rr()] },
  ]);
  assert.equal(j1[0].protocolName, 'roundrobin');

  const h2 = harness({ initialRebalanceDelayMs: 100 });
  const j2 = form(h2, [
    { clientId: 'a', protocols: [range(), rr()] },
    { clientId: 'b', protocols: [range(), rr()] },
    { clientId: 'c', protocols: [rr(), range()] },
  ]);
  assert.equal(j2[0].protocolName, 'range');
  // The leader sees each member's metadata for the chosen protocol.
  assert.ok(j2[0].members.every((m) => m.metadata.equals(subscription(['t']))));
});

test('INCONSISTENT_GROUP_PROTOCOL and INVALID_SESSION_TIMEOUT', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  form(h, [{ clientId: 'a' }]);
  const sticky = h.join({ clientId: 'x', protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] });
  assert.equal(sticky.value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  const connect = h.join({ clientId: 'y', protocolType: 'connect' });
  assert.equal(connect.value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(h.join({ clientId: 'z', sessionTimeoutMs: 999 }).value?.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal(h.join({ clientId: 'z', sessionTimeoutMs: 60_001 }).value?.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  const empty = harness();
  assert.equal(empty.join({ protocols: [] }).value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(empty.join({ protocolType: '' }).value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
});

test('SyncGroup and Heartbeat errors: unknown member, old generation, rebalance in progress', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a] = joined.map((j) => j.memberId);
  assert.equal(h.sync('nobody', 1).value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(h.sync(a, 0).value?.errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal(h.group.heartbeat(a, null, 1), ErrorCode.NONE, 'heartbeats are fine while waiting for the assignment');
  stabilize(h, joined);
  h.join({ memberId: a }); // leader rejoin → rebalance
  assert.equal(h.sync(joined[1].memberId, 1).value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const c = h.sync(a, 1);
  assert.equal(c.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const s = h.group;
  s.sync({ memberId: a, groupInstanceId: null, generationId: 1, protocolType: 'connect', protocolName: null, assignments: new Map() }, (r) => assert.equal(r.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
});

test('a member that never sends SyncGroup is removed after the rebalance timeout', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a, b] = joined.map((j) => j.memberId);
  h.sync(a, 1, { [a]: assignment({ t: [0] }), [b]: assignment({ t: [1] }) });
  assert.equal(h.group.stateName, 'Stable');
  for (let t = 0; t < REBALANCE; t += 3000) {
    h.timers.advance(3000);
    h.group.heartbeat(a, null, 1);
    h.group.heartbeat(b, null, 1);
  }
  assert.equal(h.group.hasMember(b), false);
  assert.equal(h.group.stateName, 'PreparingRebalance');
});

test('a failed assignment write answers every waiting member COORDINATOR_NOT_AVAILABLE and rebalances', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a, b] = joined.map((j) => j.memberId);
  const sb = h.sync(b, 1);
  h.persistError = new Error('database down');
  const sa = h.sync(a, 1, { [a]: assignment({ t: [0] }) });
  assert.equal(sa.value?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(sb.value?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(h.group.stateName, 'PreparingRebalance');
});

test('an assignment write that finishes after a new rebalance started changes nothing', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a] = joined.map((j) => j.memberId);
  h.autoPersist = false;
  const sa = h.sync(a, 1, { [a]: assignment({ t: [0] }) });
  h.group.leave([{ memberId: joined[1].memberId, groupInstanceId: null }]);
  assert.equal(sa.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  h.finishPersist();
  assert.equal(h.group.stateName, 'PreparingRebalance');
});

test('the last member leaving empties the group, which is stored with its new generation', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }]);
  stabilize(h, joined);
  h.group.leave([{ memberId: joined[0].memberId, groupInstanceId: null }]);
  assert.equal(h.group.stateName, 'Empty');
  assert.equal(h.group.generationId, 2);
  const last = h.persists.at(-1)!.record;
  assert.equal(last.state, 'Empty');
  assert.equal(last.generation, 2);
  assert.deepEqual(last.members, []);
});

test('a member leaving while its SyncGroup waits still gets that SyncGroup answered; the others rebalance', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }, { clientId: 'c' }]);
  const [a, b, c] = joined.map((j) => j.memberId);
  const sb = h.sync(b, 1);
  const sc = h.sync(c, 1);
  assert.ok(isPending(sb) && isPending(sc), 'followers wait for the leader');
  h.group.leave([{ memberId: b, groupInstanceId: null }]);
  assert.equal(sb.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(sc.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(h.group.stateName, 'PreparingRebalance');

  // The leader leaves while its assignment is being stored.
  const ra = h.join({ memberId: a });
  const rc = h.join({ memberId: c });
  assert.equal(ra.value?.generationId, 2);
  assert.equal(rc.value?.generationId, 2);
  h.autoPersist = false;
  const sc2 = h.sync(c, 2);
  const sa2 = h.sync(a, 2, { [a]: assignment({ t: [0] }), [c]: assignment({ t: [1] }) });
  h.group.leave([{ memberId: a, groupInstanceId: null }]);
  assert.equal(sa2.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(sc2.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  h.finishPersist();
  assert.equal(h.group.stateName, 'PreparingRebalance', 'the late write changes nothing');
});

test('LeaveGroup batch: per-member errors, removal by group.instance.id, fencing', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 's', groupInstanceId: 'inst-s' }, { clientId: 't', groupInstanceId: 'inst-t' }]);
  stabilize(h, joined);
  const r = h.group.leave([
    { memberId: 'nobody', groupInstanceId: null },
    { memberId: '', groupInstanceId: 'inst-s' },
    { memberId: '', groupInstanceId: 'nope' },
    { memberId: 'other-id', groupInstanceId: 'inst-t' },
  ]);
  assert.deepEqual(r.members.map((m) => m.errorCode), [ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.FENCED_INSTANCE_ID]);
  assert.equal(h.group.hasMember(joined[1].memberId), false);
  assert.equal(h.group.hasMember(joined[2].memberId), true);
});

test('static membership: a restarted member takes its old place and assignment without a rebalance; the old instance is fenced', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [
    { clientId: 'a', groupInstanceId: 'inst-a' },
    { clientId: 'b', groupInstanceId: 'inst-b' },
    { clientId: 'c', groupInstanceId: 'inst-c' },
  ]);
  const synced = stabilize(h, joined);
  const [a, b] = joined.map((j) => j.memberId);
  assert.equal(joined[0].leader, a);
  const persistsBefore = h.persists.length;

  // inst-b restarts: empty member id, same instance id.
  const back = h.join({ clientId: 'b', groupInstanceId: 'inst-b', requireKnownMemberId: true });
  const j = back.value!;
  assert.equal(j.errorCode, ErrorCode.NONE);
  assert.notEqual(j.memberId, b);
  assert.equal(j.generationId, 1, 'no new generation');
  assert.equal(j.leader, a);
  assert.equal(h.group.stateName, 'Stable');
  assert.equal(h.persists.length, persistsBefore + 1, 'the new member id is stored');
  const stored = h.persists.at(-1)!.record.members as Array<{ memberId: string; groupInstanceId: string }>;
  assert.ok(stored.some((m) => m.memberId === j.memberId && m.groupInstanceId === 'inst-b'));

  const s = h.sync(j.memberId, 1, {}, 'inst-b');
  assert.ok(s.value?.assignment.equals(synced[1].assignment), 'its old assignment');
  assert.equal(h.group.heartbeat(a, 'inst-a', 1), ErrorCode.NONE, 'the others are not disturbed');
  assert.equal(h.group.heartbeat(b, 'inst-b', 1), ErrorCode.FENCED_INSTANCE_ID);
  assert.equal(h.group.validateOffsetCommit(b, 'inst-b', 1), ErrorCode.FENCED_INSTANCE_ID);
  assert.equal(h.group.heartbeat(j.memberId, 'inst-b', 1), ErrorCode.NONE);
});

test('static membership: a static member is expired after its session timeout', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a', groupInstanceId: 'inst-a' }, { clientId: 'b', groupInstanceId: 'inst-b' }]);
  stabilize(h, joined);
  const [a, b] = joined.map((j) => j.memberId);
  for (let t = 0; t < SESSION; t += 2000) {
    h.timers.advance(2000);
    if (h.group.stateName === 'Stable') h.group.heartbeat(a, 'inst-a', 1);
  }
  assert.equal(h.group.hasMember(b), false);
  assert.equal(h.group.stateName, 'PreparingRebalance');
  const ra = h.join({ memberId: a, groupInstanceId: 'inst-a' });
  assert.equal(ra.value?.generationId, 2);
});

test('static membership: a restarted static member during a rebalance fences the old instance waiting on its join', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a', groupInstanceId: 'inst-a' }, { clientId: 'b', groupInstanceId: 'inst-b' }]);
  const waiting = h.join({ memberId: joined[1].memberId, groupInstanceId: 'inst-b', protocols: [range(['x'])] });
  assert.equal(h.group.stateName, 'PreparingRebalance');
  const back = h.join({ clientId: 'b', groupInstanceId: 'inst-b' });
  assert.equal(waiting.value?.errorCode, ErrorCode.FENCED_INSTANCE_ID, 'the old instance waiting on its join is fenced');
  h.join({ memberId: joined[0].memberId, groupInstanceId: 'inst-a' });
  assert.equal(back.value?.generationId, 2);
});

test('OffsetCommit validation: simple consumers on an empty group, members with their generation', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  assert.equal(h.group.validateOffsetCommit('', null, -1), ErrorCode.NONE);
  assert.equal(h.group.validateOffsetCommit('someone', null, -1), ErrorCode.NONE, 'generation -1 on an empty group');
  assert.equal(h.group.validateOffsetCommit('someone', null, 3), ErrorCode.UNKNOWN_MEMBER_ID);
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const [a] = joined.map((j) => j.memberId);
  assert.equal(h.group.validateOffsetCommit(a, null, 1), ErrorCode.REBALANCE_IN_PROGRESS, 'CompletingRebalance');
  stabilize(h, joined);
  assert.equal(h.group.validateOffsetCommit(a, null, 1), ErrorCode.NONE);
  assert.equal(h.group.validateOffsetCommit(a, null, 0), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(h.group.validateOffsetCommit('', null, -1), ErrorCode.UNKNOWN_MEMBER_ID, 'not while the group has members');
  assert.equal(h.group.validateOffsetCommit('x', null, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  h.join({ memberId: a });
  assert.equal(h.group.validateOffsetCommit(a, null, 1), ErrorCode.NONE, 'still accepted while PreparingRebalance');
});

test('unload answers waiting joins and syncs and stops every timer', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a' }, { clientId: 'b' }]);
  const sb = h.sync(joined[1].memberId, 1);
  const c = h.join({ clientId: 'c' });
  const sa = h.join({ memberId: joined[0].memberId });
  assert.equal(sb.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  h.group.unload(ErrorCode.NOT_COORDINATOR);
  assert.equal(c.value?.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(sa.value?.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(h.group.stateName, 'Dead');
  assert.equal(h.timers.size, 0);
  assert.equal(h.join({ clientId: 'd' }).value?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal(h.group.heartbeat(joined[0].memberId, null, 1), ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

test('describe shows metadata and assignments only while Stable; subscribed topics come from the chosen protocol', () => {
  const h = harness({ initialRebalanceDelayMs: 100 });
  const joined = form(h, [{ clientId: 'a', protocols: [range(['t1', 't2'])] }, { clientId: 'b', protocols: [range(['t3'])] }]);
  let d = h.group.describe();
  assert.equal(d.state, 'CompletingRebalance');
  assert.equal(d.protocolData, '');
  assert.equal(d.members[0].metadata.length, 0);
  stabilize(h, joined);
  d = h.group.describe();
  assert.equal(d.state, 'Stable');
  assert.equal(d.protocolType, 'consumer');
  assert.equal(d.protocolData, 'range');
  assert.deepEqual(d.members.map((m) => m.clientId), ['a', 'b']);
  assert.ok(d.members[0].metadata.equals(subscription(['t1', 't2'])));
  assert.ok(d.members[1].assignment.equals(assignment({ t: [1] })));
  assert.equal(h.group.isSubscribedToTopic('t3'), true);
  assert.equal(h.group.isSubscribedToTopic('other'), false);
});
