// The lease state machine on a fake clock and a fake lease table with the store's semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/errors.js';
import { IllegalLeaseTransition, Leadership, transition, type LeadershipListener } from '../../src/leadership.js';
import { silentLogger } from '../../src/logger.js';
import type { LeaseRecord, PartitionRecord } from '../../metadata/types.js';

class FakeLeases {
  now = 1_000_000;
  leases = new Map<string, LeaseRecord>();
  failing = false;
  private k = (t: string, p: number) => `${t}/${p}`;

  async acquirePartitionLease(topic: string, partitionId: number, agentId: string, ttlMs: number): Promise<LeaseRecord | undefined> {
    if (this.failing) throw new Error('database down');
    const cur = this.leases.get(this.k(topic, partitionId));
    if (cur && cur.leaderAgentId !== agentId && cur.leaseExpiresAt > this.now) return undefined;
    const epoch = cur === undefined ? 1 : cur.leaderAgentId === agentId && cur.leaseExpiresAt > this.now ? cur.epoch : cur.epoch + 1;
    const l = { topic, partitionId, leaderAgentId: agentId, leaseExpiresAt: this.now + ttlMs, epoch };
    this.leases.set(this.k(topic, partitionId), l);
    return l;
  }
  async renewPartitionLease(topic: string, partitionId: number, agentId: string, epoch: number, ttlMs: number): Promise<LeaseRecord | undefined> {
    if (this.failing) throw new Error('database down');
    const cur = this.leases.get(this.k(topic, partitionId));
    if (!cur || cur.leaderAgentId !== agentId || cur.epoch !== epoch || cur.leaseExpiresAt <= this.now) return undefined;
    cur.leaseExpiresAt = this.now + ttlMs;
    return cur;
  }
  async releasePartitionLease(topic: string, partitionId: number, agentId: string): Promise<void> {
    const cur = this.leases.get(this.k(topic, partitionId));
    if (cur?.leaderAgentId === agentId) cur.leaseExpiresAt = this.now;
  }
  async getPartition(topic: string, partitionId: number): Promise<PartitionRecord | undefined> {
    return { topic, partitionId, highWatermark: 42, logStartOffset: 0, leaderEpoch: 0, createdAt: 0, updatedAt: 0 };
  }
}

function recorder(): LeadershipListener & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onLeading: (t, p, l) => events.push(`leading ${t}-${p} epoch ${l.epoch} hw ${l.highWatermark}`),
    onLost: (t, p) => events.push(`lost ${t}-${p}`),
  };
}

function setup(agentId = 'a') {
  const store = new FakeLeases();
  const listener = recorder();
  const clock = { now: () => store.now };
  const leadership = new Leadership({ metadata: store, agentId, ttlMs: 30_000, clock, log: silentLogger(), listener });
  return { store, listener, leadership };
}

test('transitions are checked', () => {
  assert.throws(() => transition({ kind: 'unowned' }, { kind: 'leading', epoch: 1, highWatermark: 0, validUntil: 0 }), IllegalLeaseTransition);
  assert.equal(transition({ kind: 'lost', epoch: 1, reason: 'x' }, { kind: 'unowned' }).kind, 'unowned');
});

test('a free partition is acquired once for concurrent callers, and the writer is told', async () => {
  const { leadership, listener } = setup();
  const [a, b] = await Promise.all([leadership.ensureLeader('t', 0), leadership.ensureLeader('t', 0)]);
  assert.deepEqual(a, { ok: true, epoch: 1 });
  assert.deepEqual(b, { ok: true, epoch: 1 });
  assert.deepEqual(listener.events, ['leading t-0 epoch 1 hw 42']);
});

test('a partition leased by another agent answers NOT_LEADER_OR_FOLLOWER until the lease expires, then is taken over with epoch + 1', async () => {
  const { store, leadership, listener } = setup('b');
  await store.acquirePartitionLease('t', 0, 'a', 30_000);
  const r = await leadership.ensureLeader('t', 0);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  store.now += 31_000;
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 2 });
  assert.deepEqual(listener.events, ['leading t-0 epoch 2 hw 42']);
});

test('renewal keeps the epoch; a refused renewal loses the partition', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  store.now += 10_000;
  await leadership.renewAll();
  assert.equal(store.leases.get('t/0')!.epoch, 1);
  assert.equal(leadership.state('t', 0).kind, 'leading');
  // Someone took the lease over (e.g. after a long pause of ours).
  store.leases.get('t/0')!.leaderAgentId = 'b';
  store.leases.get('t/0')!.epoch = 2;
  await leadership.renewAll();
  assert.equal(leadership.state('t', 0).kind, 'lost');
  assert.deepEqual(listener.events, ['leading t-0 epoch 1 hw 42', 'lost t-0']);
});

test('while the database is down, leadership lasts only as long as the lease could', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  store.failing = true;
  store.now += 20_000;
  await leadership.renewAll(); // fails: still within the lease
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 1 });
  store.now += 11_000; // past the lease we last held
  await assert.rejects(leadership.ensureLeader('t', 0));
  assert.deepEqual(listener.events, ['leading t-0 epoch 1 hw 42', 'lost t-0']);
  store.failing = false;
  // Our own lease expired meanwhile: taking it again is a new epoch.
  assert.deepEqual(await leadership.ensureLeader('t', 0), { ok: true, epoch: 2 });
});

test('releaseAll gives every lease back', async () => {
  const { store, leadership, listener } = setup('a');
  await leadership.ensureLeader('t', 0);
  await leadership.ensureLeader('t', 1);
  await leadership.releaseAll();
  assert.equal(leadership.leading().length, 0);
  assert.ok([...store.leases.values()].every((l) => l.leaseExpiresAt <= store.now));
  assert.equal(listener.events.filter((e) => e.startsWith('lost')).length, 2);
});
