// ClusterView.leaders: the leader and epoch Metadata names for each partition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterView } from '../../src/cluster.js';
import type { Leadership } from '../../src/leadership.js';
import type { AgentRecord, LeaseRecord, PartitionRecord } from '../../metadata/types.js';

const NOW = 1_000_000;
const agent = (agentId: string, nodeId: number): AgentRecord => ({ agentId, nodeId, host: 'h', port: nodeId, rack: null, lastHeartbeat: NOW, startedAt: 0 });
const partition = (partitionId: number, leaderEpoch: number): PartitionRecord => ({ topic: 't', partitionId, highWatermark: 0, logStartOffset: 0, leaderEpoch, createdAt: 0, updatedAt: 0 });
const lease = (partitionId: number, leaderAgentId: string, epoch: number, expiresIn: number): LeaseRecord => ({ topic: 't', partitionId, leaderAgentId, epoch, leaseExpiresAt: NOW + expiresIn });

test('a partition no agent leads is named with the epoch its first lease will have', async () => {
  const leases = [lease(1, 'self', 3, 5000), lease(2, 'gone', 4, -1), lease(3, 'other', 6, 5000), lease(4, 'self', 7, -1)];
  const view = new ClusterView(
    {
      listLiveAgents: async () => [agent('self', 0), agent('other', 1)],
      listPartitionLeases: async () => leases,
      getPartitions: async () => [partition(0, 0), partition(1, 3), partition(2, 4), partition(3, 6), partition(4, 7), partition(5, 2)],
    },
    { nodeId: 0, host: 'h', port: 0, rack: null, agentId: 'self' },
    { state: (_t: string, p: number) => (p === 5 ? { kind: 'leading', epoch: 2, highWatermark: 0, validUntil: NOW + 1 } : { kind: 'unowned' }) } as unknown as Leadership,
    { now: () => NOW },
    10_000,
  );
  assert.deepEqual(await view.leaders('t', 6), [
    { nodeId: 0, leaderEpoch: 1 }, // never led: the first lease takes epoch 1
    { nodeId: 0, leaderEpoch: 3 }, // our unexpired lease (e.g. after a restart): taken again at the same epoch
    { nodeId: 0, leaderEpoch: 5 }, // another agent's lease expired: the next holder bumps it
    { nodeId: 1, leaderEpoch: 6 }, // led by the other agent
    { nodeId: 0, leaderEpoch: 8 }, // our own lease expired: bumped too
    { nodeId: 0, leaderEpoch: 2 }, // led by us
  ]);
});
