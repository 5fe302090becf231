// `streamhouse leases [--topic NAME]`: partition leases and coordinator-shard leases with holder
// (agent id and node id), epoch and expiry on the database clock. Database only: leases are not
// Kafka-visible. Coordinator rows with a negative shard are the agents' membership leases (shard
// -1 - node id), shown as "member".
import { formatRanges, formatRelative, formatTable, formatTime } from './table.js';
import { requireDatabase, type Target } from './target.js';

export interface PartitionLeaseRow {
  topic: string;
  partition: number;
  holder: string;
  holderNode: number | null;
  epoch: number;
  expiresAt: number;
  valid: boolean;
}

export interface CoordinatorLeaseRow {
  /** Shard number, or null for a membership lease. */
  shard: number | null;
  kind: 'shard' | 'membership';
  holder: string;
  holderNode: number | null;
  epoch: number;
  expiresAt: number;
  valid: boolean;
}

export interface LeaseReport {
  source: 'database';
  databaseTime: number;
  /** --topic: only that topic's partition leases, no coordinator leases. */
  topic: string | null;
  partitionLeases: PartitionLeaseRow[];
  coordinatorLeases: CoordinatorLeaseRow[];
}

export async function listLeases(target: Target, opts: { topic?: string } = {}): Promise<LeaseReport> {
  const { store } = requireDatabase(target, 'leases');
  const [partition, coordinator, agents, now] = await Promise.all([
    store.listPartitionLeases(opts.topic),
    opts.topic === undefined ? store.listCoordinatorLeases() : Promise.resolve([]),
    store.listAgents(),
    store.now(),
  ]);
  const nodeOf = new Map(agents.map((a) => [a.agentId, a.nodeId]));
  return {
    source: 'database',
    databaseTime: now,
    topic: opts.topic ?? null,
    partitionLeases: partition.map((l) => ({
      topic: l.topic,
      partition: l.partitionId,
      holder: l.leaderAgentId,
      holderNode: nodeOf.get(l.leaderAgentId) ?? null,
      epoch: l.epoch,
      expiresAt: l.leaseExpiresAt,
      valid: l.leaseExpiresAt > now,
    })),
    coordinatorLeases: coordinator.map((l) => ({
      shard: l.shard >= 0 ? l.shard : null,
      kind: l.shard >= 0 ? ('shard' as const) : ('membership' as const),
      holder: l.leaderAgentId,
      holderNode: nodeOf.get(l.leaderAgentId) ?? (l.shard < 0 ? -1 - l.shard : null),
      epoch: l.epoch,
      expiresAt: l.leaseExpiresAt,
      valid: l.leaseExpiresAt > now,
    })),
  };
}

export function renderLeases(r: LeaseReport): string {
  const now = r.databaseTime;
  const state = (valid: boolean) => (valid ? 'held' : 'expired');
  const partitions = formatTable(
    [
      { header: 'TOPIC', value: (l: PartitionLeaseRow) => l.topic },
      { header: 'PARTITION', value: (l) => l.partition },
      { header: 'HOLDER', value: (l) => l.holder },
      { header: 'NODE', value: (l) => l.holderNode, align: 'right' },
      { header: 'EPOCH', value: (l) => l.epoch },
      { header: 'STATE', value: (l) => state(l.valid) },
      { header: 'EXPIRES', value: (l) => formatRelative(l.expiresAt, now) },
    ],
    r.partitionLeases,
    { empty: '(no partition leases)' },
  );
  const coordinators = formatTable(
    [
      { header: 'SHARDS', value: (l: ShardGroup) => l.shards },
      { header: 'HOLDER', value: (l) => l.holder },
      { header: 'NODE', value: (l) => l.holderNode, align: 'right' },
      { header: 'EPOCH', value: (l) => l.epoch },
      { header: 'STATE', value: (l) => state(l.valid) },
      { header: 'EXPIRES', value: (l) => formatRelative(l.expiresAt, now) },
    ],
    groupShards(r.coordinatorLeases),
    { empty: '(no coordinator leases)' },
  );
  const head = `Database clock: ${formatTime(now)}\n\nPartition leases\n${partitions}`;
  return r.topic === null ? `${head}\n\nCoordinator leases\n${coordinators}` : head;
}

interface ShardGroup extends Omit<CoordinatorLeaseRow, 'shard' | 'kind'> {
  /** "0-16,40" or "member" (an agent's membership lease). */
  shards: string;
}

/** The table lists shards with the same holder, epoch, state and expiry on one line (50 rows say little). */
function groupShards(rows: readonly CoordinatorLeaseRow[]): ShardGroup[] {
  const out: ShardGroup[] = [];
  const groups = new Map<string, { row: CoordinatorLeaseRow; shards: number[] }>();
  for (const row of rows) {
    if (row.kind === 'membership') {
      out.push({ ...row, shards: 'member' });
      continue;
    }
    const key = JSON.stringify([row.holder, row.epoch, row.valid, row.expiresAt]);
    const g = groups.get(key);
    if (g) g.shards.push(row.shard!);
    else groups.set(key, { row, shards: [row.shard!] });
  }
  for (const { row, shards } of groups.values()) out.push({ ...row, shards: formatRanges(shards) });
  return out;
}
