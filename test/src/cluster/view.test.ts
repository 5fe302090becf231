// ClusterView.leaders: the leader and epoch Metadata names for each partition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterView } from '../../../src/cluster/view.js';
import { intendedLeader } from '../../../src/cluster/placement.js';
import type { LeaseState } from '../../../src/cluster/leases.js';
import type { AgentRecord, LeaseRecord, PartitionRecord } from '../../../metadata/types.js';

const NOW = 1_000_000;
const agent = (agentId: string, nodeId: number): AgentRecord => ({ agentId, nodeId, host: 'h', port: nodeId, rack: null, lastHeartbeat: NOW, startedAt: 0 });
const partition = (partitionId: number, leaderEpoch: number): PartitionRecord => ({ topic: 't', partitionId, highWatermark: 0, logStartOffset: 0, leaderEpoch, createdAt: 0, updatedAt: 0 });
const lease = (partitionId: number, leaderAgentId: string, epoch: number, expiresIn: number): LeaseRecord => ({ topic: 't', partitionId, leaderAgentId, epoch, leaseExpiresAt: NOW + expiresIn });

function view(leases: LeaseRecord[], partitions: PartitionRecord[], state: (p: number) => LeaseState, agents = [agent('self', 0), agent('other', 1)]) {
  const nodes = agents.map((a) => a.nodeId);
  return new ClusterView(
    { listPartitionLeases: async () => leases, getPartitions: async () => partitions },
    { nodeId: 0, host: 'h', port: 0, rack: null, agentId: 'self' },
    { state: (_t: string, p: number) => state(p) },
    { now: () => NOW },
    { liveAgents: async () => agents, intended: (t, p, c) => intendedLeader(t, p, c, nodes) },
  );
}

test('the leader is us when we lead, the live holder of an unexpired lease, else the intended leader with the epoch its first lease will have', async () => {
  const leases = [lease(1, 'self', 3, 5000), lease(2, 'gone', 4, -1), lease(3, 'other', 6, 5000), lease(4, 'self', 7, -1), lease(6, 'dead', 9, 5000)];
  const v = view(leases, [partition(0, 0), partition(1, 3), partition(2, 4), partition(3, 6), partition(4, 7), partition(5, 2), partition(6, 9)], (p) =>
    p === 5 ? { kind: 'leading', epoch: 2, since: 0, validUntil: NOW + 1 } : { kind: 'unowned' },
  );
  const intended = (p: number) => intendedLeader('t', p, 7, [0, 1])!;
  assert.deepEqual(await v.leaders('t', 7), [
    { nodeId: intended(0), leaderEpoch: 1 }, // never led: the first lease takes epoch 1
    // our unexpired lease (e.g. after a restart): taken again at the same epoch if it is still ours to lead
    { nodeId: intended(1), leaderEpoch: intended(1) === 0 ? 3 : 4 },
    { nodeId: intended(2), leaderEpoch: 5 }, // another agent's lease expired: the next holder bumps it
    { nodeId: 1, leaderEpoch: 6 }, // led by the other agent
    { nodeId: intended(4), leaderEpoch: 8 }, // our own lease expired: bumped too
    { nodeId: 0, leaderEpoch: 2 }, // led by us
    { nodeId: intended(6), leaderEpoch: 10 }, // its holder is not live: its intended leader takes it next
  ]);
});

test('a partition we are handing off is named at its intended leader, with the next epoch', async () => {
  // Find a partition intended for the other agent.
  let p = 0;
  while (intendedLeader('t', p, 10, [0, 1]) !== 1) p++;
  const partitions = Array.from({ length: 10 }, (_, i) => partition(i, 3));
  const v = view([lease(p, 'self', 3, 5000)], partitions, (i) => (i === p ? { kind: 'handing-off', epoch: 3, since: 0, validUntil: NOW + 1, done: Promise.resolve() } : { kind: 'unowned' }));
  assert.deepEqual((await v.leaders('t', 10))[p], { nodeId: 1, leaderEpoch: 4 });
});

test('brokers are the live agents, and this agent even when it is not live (clients that reached it may go on asking it)', async () => {
  const v = view([], [], () => ({ kind: 'unowned' }), [agent('other', 1)]);
  assert.deepEqual((await v.brokers()).map((b) => b.nodeId), [0, 1]);
});
