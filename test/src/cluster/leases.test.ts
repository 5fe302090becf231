// The lease state machine on a fake clock and a fake lease table with the store's semantics (expiry
// judged on the table's clock, batch acquire, one renewal for all of an agent's leases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../protocol/errors.js';
import { IllegalLeaseTransition, Leadership, transition, type LeaseRef, type LeadershipListener } from '../../../src/cluster/leases.js';
import { FakeLeaseStore } from './fakes.js';
import { silentLogger, type Logger } from '../../../src/logger.js';

function recorder(store: FakeLeaseStore): LeadershipListener & { events: string[]; drain?: Promise<void> } {
  const events = store.log; // one timeline with the store's releases
  const l: LeadershipListener & { events: string[]; drain?: Promise<void> } = {
    events,
    onLeading: (r, epoch) => void events.push(`leading ${r.topic}-${r.partitionId} epoch ${epoch}`),
    onHandoff: async (r) => {
      events.push(`draining ${r.topic}-${r.partitionId}`);
      await l.drain;
      events.push(`drained ${r.topic}-${r.partitionId}`);
    },
    onLost: (r) => void events.push(`lost ${r.topic}-${r.partitionId}`),
  };
  return l;
}

function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const base = silentLogger();
  const rec = (level: string) => (_o: unknown, msg?: string) => void lines.push(`${level}: ${msg ?? ''}`);
  return Object.assign(Object.create(base) as Logger, { lines, error: rec('error'), warn: rec('warn'), info: rec('info') });
}

function setup(agentId = 'a', opts: { mayAcquire?: (r: LeaseRef) => boolean } = {}) {
  const store = new FakeLeaseStore();
  const listener = recorder(store);
  // One clock for both sides; tests move it. Local validity counts from before each request.
  const clock = { now: () => store.now };
  const log = capturingLogger();
  const leadership = new Leadership({ store, agentId, ttlMs: 10_000, renewIntervalMs: 2_500, fenceMarginMs: 1_000, clock, log, listener, mayAcquire: opts.mayAcquire });
  return { store, listener, leadership, log };
}

test('transitions are checked', () => {
  assert.throws(() => transition({ kind: 'unowned' }, { kind: 'leading', epoch: 1, since: 0, validUntil: 0 }), IllegalLeaseTransition);
  assert.throws(() => transition({ kind: 'handing-off', epoch: 1, since: 0, validUntil: 0, done: Promise.resolve() }, { kind: 'leading', epoch: 1, since: 0, validUntil: 0 }), IllegalLeaseTransition);
  assert.equal(transition({ kind: 'lost', epoch: 1, reason: 'x' }, { kind: 'unowned' }).kind, 'unowned');
});

test('a free partition is acquired once for concurrent callers, and the listener is told', async () => {
  const { leadership, listener, store } = setup();
  const [a, b] = await Promise.all([leadership.ensureLeader('t', 0), leadership.ensureLeader('t', 0)]);
  assert.deepEqual(a, { ok: true, epoch: 1 });
  assert.deepEqual(b, { ok: true, epoch: 1 });
  assert.deepEqual(listener.events, ['leading t-0 epoch 1']);
  assert.equal(store.calls.acquire, 1);
});

test('a request takes a free lease only where placement allows it', async () => {
  const { leadership, store } = setup('a', { mayAcquire: (r) => r.partitionId === 0 });
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 1 });
  assert.deepEqual(await leadership.ensureLeader('t', 1), { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  assert.equal(store.calls.acquire, 1);
});

test('a partition leased by another agent answers NOT_LEADER_OR_FOLLOWER until the lease expires, then is taken over with epoch + 1', async () => {
  const { store, leadership, listener } = setup('b');
  await store.acquire('a', [{ topic: 't', partitionId: 0 }], 10_000);
  const r = await leadership.ensureLeader('t', 0);
  assert.equal(!r.ok && r.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  store.now += 11_000;
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 2 });
  assert.deepEqual(listener.events, ['leading t-0 epoch 2']);
});

test('placement acquires many leases in one statement and skips those led or held elsewhere', async () => {
  const { store, leadership } = setup('a');
  await store.acquire('b', [{ topic: 't', partitionId: 2 }], 10_000);
  const calls = store.calls.acquire;
  const refs = [0, 1, 2, 3].map((p) => ({ topic: 't', partitionId: p }));
  assert.equal(await leadership.acquireMany(refs), 3);
  assert.equal(store.calls.acquire, calls + 1);
  assert.deepEqual(leadership.leading().map((l) => l.partitionId).sort(), [0, 1, 3]);
  assert.equal(leadership.state('t', 2).kind, 'held-elsewhere');
  assert.equal(await leadership.acquireMany(refs.slice(0, 2)), 0); // already led: no statement
  assert.equal(store.calls.acquire, calls + 1);
});

test('one renewal statement renews every lease; those missing from its answer are lost', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.acquireMany([0, 1, 2].map((p) => ({ topic: 't', partitionId: p })));
  store.now += 2_500;
  await leadership.renewAll();
  assert.equal(store.calls.renew, 1);
  assert.ok([...store.rows.values()].every((r) => r.expiresAt === store.now + 10_000));
  // Someone took partition 1 over (e.g. after a long pause of ours).
  store.rows.set('t-1', { holder: 'b', epoch: 2, expiresAt: store.now + 10_000 });
  store.now += 2_500;
  await leadership.renewAll();
  assert.equal(store.calls.renew, 2);
  assert.equal(leadership.state('t', 1).kind, 'lost');
  assert.deepEqual(leadership.leading().map((l) => l.partitionId).sort(), [0, 2]);
  assert.ok(listener.events.includes('lost t-1'));
});

test('a lease acquired while a renewal was in flight is not judged by that renewal', async () => {
  const { store, leadership } = setup('a');
  let release!: () => void;
  const renewOrig = store.renew.bind(store);
  store.renew = async (h, ttl) => {
    const r = await renewOrig(h, ttl); // statement runs before the acquisition below
    await new Promise<void>((res) => (release = res));
    return r;
  };
  const renewal = leadership.renewAll();
  await new Promise((r) => setImmediate(r));
  store.now += 1;
  await leadership.acquireMany([{ topic: 't', partitionId: 0 }]);
  release();
  await renewal;
  assert.equal(leadership.state('t', 0).kind, 'leading');
});

test('self-fencing: when renewals fail, leadership ends before the lease can expire in the database, and the log says so', async () => {
  const { store, leadership, listener, log } = setup('a');
  await leadership.ensureLeader('t', 0);
  const granted = store.now;
  store.failing = true;
  store.now += 2_500;
  await leadership.renewAll(); // fails: still within the local estimate
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 1 });
  store.now = granted + 10_000 - 1_000; // TTL − margin after the granting request was sent
  assert.equal(leadership.fence(), 1);
  assert.equal(leadership.state('t', 0).kind, 'lost');
  assert.ok(store.rows.get('t-0')!.expiresAt > store.now, 'fenced while the database still counts the lease as ours');
  assert.deepEqual(listener.events, ['leading t-0 epoch 1', 'lost t-0']);
  assert.ok(log.lines.some((l) => l.startsWith('error:') && l.includes('self-fenced')), log.lines.join('\n'));
  // A request in the same situation is refused too (ensureLeader checks validity itself).
  store.failing = false;
  store.now += 2_000; // our old lease expired: taking it again is a new epoch
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 2 });
});

test('validity counts from before the granting request: a slow acquisition shortens it', async () => {
  const { store, leadership } = setup('a');
  const acquireOrig = store.acquire.bind(store);
  store.acquire = async (h, refs, ttl) => {
    const r = await acquireOrig(h, refs, ttl);
    store.now += 3_000; // the answer took 3 s to come back
    return r;
  };
  const sent = store.now;
  await leadership.ensureLeader('t', 0);
  const st = leadership.state('t', 0);
  assert.equal(st.kind === 'leading' && st.validUntil, sent + 10_000 - 1_000);
});

test('handoff: new work is refused at once, the lease is released only after the listener drained, then it is free with epoch + 1', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  let drained!: () => void;
  listener.drain = new Promise<void>((r) => (drained = r));
  const done = leadership.handOff('t', 0);
  assert.equal(leadership.state('t', 0).kind, 'handing-off');
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
  await new Promise((r) => setImmediate(r));
  assert.ok(!listener.events.includes('release t-0'), 'not released before the flush finished');
  assert.ok(store.rows.get('t-0')!.expiresAt > store.now);
  drained();
  await done;
  assert.deepEqual(listener.events, ['leading t-0 epoch 1', 'draining t-0', 'drained t-0', 'release t-0', 'lost t-0']);
  assert.equal(leadership.state('t', 0).kind, 'unowned');
  const [g] = await store.acquire('b', [{ topic: 't', partitionId: 0 }], 10_000);
  assert.equal(g?.epoch, 2);
});

test('renewal keeps a partition being handed off alive until it is released', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  let drained!: () => void;
  listener.drain = new Promise<void>((r) => (drained = r));
  const done = leadership.handOff('t', 0);
  store.now += 9_500;
  await leadership.renewAll();
  assert.equal(leadership.state('t', 0).kind, 'handing-off');
  drained();
  await done;
  assert.ok(listener.events.includes('release t-0'));
});

test('handOffAll drains and releases everything and refuses new acquisitions', async () => {
  const { store, leadership } = setup('a');
  await leadership.acquireMany([0, 1, 2].map((p) => ({ topic: 't', partitionId: p })));
  await leadership.handOffAll();
  assert.equal(leadership.leading().length, 0);
  assert.ok([...store.rows.values()].every((r) => r.expiresAt <= store.now));
  assert.deepEqual(await leadership.ensureLeader('t', 5), { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
});

test('leases the store says we hold but we do not serve (a previous run) are released by the renewal', async () => {
  const { store, leadership } = setup('a');
  await store.acquire('a', [{ topic: 't', partitionId: 7 }], 10_000);
  await leadership.renewAll();
  assert.ok(store.log.includes('release t-7'));
});

test('releaseAll gives every lease back in one statement', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  await leadership.ensureLeader('t', 1);
  const before = store.calls.release;
  await leadership.releaseAll();
  assert.equal(store.calls.release, before + 1);
  assert.equal(leadership.leading().length, 0);
  assert.ok([...store.rows.values()].every((r) => r.expiresAt <= store.now));
  assert.equal(listener.events.filter((e) => e.startsWith('lost')).length, 2);
});

test('an unknown partition is an error for the request, and no state is kept', async () => {
  const { store, leadership } = setup('a');
  store.acquire = async () => {
    throw Object.assign(new Error('unknown'), { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
  };
  await assert.rejects(leadership.ensureLeader('t', 9));
  assert.equal(leadership.state('t', 9).kind, 'unowned');
});
