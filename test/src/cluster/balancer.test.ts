// Placement rounds on fakes: an agent takes its share in one statement, hands off what a joining
// agent is now intended to lead (releasing only after the drain), and hands everything off when it
// no longer counts itself live. Membership: an agent is live only after goLive and while its own
// heartbeats are recent enough; its lapsed self is left out of the live set it reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../../src/cluster/balancer.js';
import { Leadership, type LeadershipListener } from '../../../src/cluster/leases.js';
import { Membership } from '../../../src/cluster/membership.js';
import { placeTopic } from '../../../src/cluster/placement.js';
import { silentLogger } from '../../../src/logger.js';
import type { AgentRecord, TopicRecord } from '../../../metadata/types.js';
import { FakeLeaseStore } from './fakes.js';

const agent = (nodeId: number): AgentRecord => ({ agentId: `agent-${nodeId}`, nodeId, host: 'h', port: 9000 + nodeId, rack: null, lastHeartbeat: 0, startedAt: 0 });
const topic = (name: string, partitionCount: number) => ({ name, partitionCount }) as TopicRecord;

function rig(self = 0) {
  const store = new FakeLeaseStore();
  const events: string[] = store.log;
  const listener: LeadershipListener = {
    onLeading: (r) => void events.push(`leading ${r.topic}-${r.partitionId}`),
    onHandoff: async (r) => void events.push(`drained ${r.topic}-${r.partitionId}`),
    onLost: (r) => void events.push(`lost ${r.topic}-${r.partitionId}`),
  };
  const leadership = new Leadership({ store, agentId: `agent-${self}`, ttlMs: 10_000, clock: { now: () => store.now }, log: silentLogger(), listener });
  const live = { agents: [agent(0), agent(1), agent(2)], self: true };
  const topics = [topic('events', 30)];
  const balancer = new Balancer({
    metadata: { listTopics: async () => topics, getTopic: async (n: string) => topics.find((t) => t.name === n) },
    membership: { liveAgents: async () => live.agents, selfLive: () => live.self },
    leadership,
    nodeId: self,
    log: silentLogger(),
  });
  return { store, leadership, balancer, live, topics, events };
}

const led = (l: Leadership) => l.leading().map((x) => x.partitionId).sort((a, b) => a - b);
const intendedFor = (node: number, nodes: number[], count = 30) => [...placeTopic('events', count, nodes)].flatMap((n, p) => (n === node ? [p] : []));

test('a round takes the whole share in one statement', async () => {
  const { store, leadership, balancer } = rig(0);
  await balancer.round();
  assert.deepEqual(led(leadership), intendedFor(0, [0, 1, 2]));
  assert.equal(led(leadership).length, 10);
  assert.equal(store.calls.acquire, 1);
  await balancer.round();
  assert.equal(store.calls.acquire, 1, 'nothing left to take: no statement');
});

test('an agent joining: the partitions now intended for it are handed off (drained, then released), the rest kept', async () => {
  const { leadership, balancer, live, events } = rig(0);
  await balancer.round();
  const before = led(leadership);
  live.agents = [...live.agents, agent(3)];
  await balancer.round();
  await new Promise((r) => setTimeout(r, 10)); // handoffs run in the background
  const after = intendedFor(0, [0, 1, 2, 3]);
  assert.deepEqual(led(leadership), before.filter((p) => after.includes(p)));
  const gone = before.filter((p) => !after.includes(p));
  assert.ok(gone.length > 0);
  for (const p of gone) {
    const drained = events.indexOf(`drained events-${p}`);
    const released = events.indexOf(`release events-${p}`);
    assert.ok(drained >= 0 && released > drained, `events-${p}: ${events.join(', ')}`);
  }
});

test('a partition intended for us that another agent still holds is taken once it is released', async () => {
  const { store, leadership, balancer } = rig(0);
  const mine = intendedFor(0, [0, 1, 2]);
  await store.acquire('agent-1', [{ topic: 'events', partitionId: mine[0]! }], 10_000);
  await balancer.round();
  assert.equal(leadership.state('events', mine[0]!).kind, 'held-elsewhere');
  await store.release('agent-1', [{ topic: 'events', partitionId: mine[0]! }]);
  await balancer.round();
  assert.equal(leadership.state('events', mine[0]!).kind, 'leading');
});

test('an agent that no longer counts itself live hands everything off and takes nothing lazily', async () => {
  const { leadership, balancer, live } = rig(0);
  await balancer.round();
  const mine = intendedFor(0, [0, 1, 2]);
  live.self = false;
  await balancer.round();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(led(leadership), []);
  assert.equal(await balancer.isOurs({ topic: 'events', partitionId: mine[0]! }), false);
  live.self = true;
  assert.equal(await balancer.isOurs({ topic: 'events', partitionId: mine[0]! }), true);
});

test('membership: live only after goLive and while its own heartbeats are recent; a lapsed agent leaves itself out', async () => {
  let now = 0;
  const agents = [agent(0), agent(1)];
  const calls: string[] = [];
  const m = new Membership({
    metadata: {
      listLiveAgents: async () => agents,
      heartbeatAgent: async () => void calls.push('heartbeat'),
      registerAgent: async () => (calls.push('register'), agents[0]!),
      retireAgent: async () => void calls.push('retire'),
      announceClusterChange: async () => void calls.push('announce'),
    },
    self: { agentId: 'agent-0', nodeId: 0, host: 'h', port: 9000, rack: null },
    heartbeatMs: 60_000, // the timer never fires in this test: heartbeats "fail" by not happening
    liveWithinMs: 6_000,
    refreshMs: 0,
    clock: { now: () => now },
    log: silentLogger(),
  });
  try {
    assert.equal(m.selfLive(), false, 'registered but not live before goLive');
    assert.deepEqual((await m.liveAgents()).map((a) => a.nodeId), [1]);
    await m.goLive();
    assert.deepEqual(calls, ['register', 'announce']);
    assert.equal(m.selfLive(), true);
    assert.deepEqual((await m.liveAgents()).map((a) => a.nodeId), [0, 1]);
    // No heartbeat got through for the liveness window minus a margin: we stop counting ourselves,
    // before the database (which saw our last heartbeat after we sent it) stops counting us.
    now = 6_000 - 1_500;
    assert.equal(m.selfLive(), false);
    assert.deepEqual((await m.liveAgents()).map((a) => a.nodeId), [1]);
    now = 0;
    await m.retire();
    assert.equal(m.selfLive(), false);
    assert.deepEqual(calls.slice(2), ['retire', 'announce']);
  } finally {
    m.stop();
  }
});
