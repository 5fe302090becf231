// `streamhouse groups` (every consumer group: state, protocol, members) and `groups describe ID`
// (members with their client, host and assigned partitions). From the database the state is the one
// the coordinator last persisted (a group whose coordinator crashed reads as it was then); through a
// broker it is the coordinator's live view (ListGroups on every broker, DescribeGroups at the
// coordinator), with the coordinator's node id.
import { decodeAssignment, errorName, type DescribeGroupsResponseDescribedGroup } from '../../protocol/index.js';
import type { SqlMetadataStore } from '../../metadata/sql-store.js';
import type { GroupRecord } from '../../metadata/types.js';
import { shardFor } from '../coordinator/shards.js';
import { AdminError } from './errors.js';
import { formatFields, formatRanges, formatTable, formatTime } from './table.js';
import type { Target } from './target.js';

export interface GroupSummary {
  groupId: string;
  state: string | null;
  protocolType: string | null;
  /** The chosen protocol (assignor), e.g. "range", "roundrobin". */
  protocol: string | null;
  generation: number | null;
  members: number | null;
  /** Node id of the coordinator: the holder of the group's unexpired shard lease (database), or as FindCoordinator/ListGroups say (broker). */
  coordinator: number | null;
  /** The coordinator shard the group hashes to (database only). */
  shard: number | null;
}

export interface GroupList {
  source: 'database' | 'broker';
  groups: GroupSummary[];
}

export interface MemberDetail {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Decoded consumer-protocol assignment; null when not a consumer group or not yet assigned. */
  assignment: Array<{ topic: string; partitions: number[] }> | null;
}

export interface GroupDescription extends GroupSummary {
  source: 'database' | 'broker';
  leader: string | null;
  updatedAt: number | null;
  memberList: MemberDetail[];
}

interface StoredMember {
  memberId?: string;
  groupInstanceId?: string | null;
  clientId?: string;
  clientHost?: string;
  assignment?: string;
}

/**
 * The coordinator of each group from the database: its shard (Kafka's abs(hashCode(id)) % shards, the shard
 * count read from the shard leases the agents took) and the node of the agent holding that shard's
 * unexpired lease; null when none does (then the group's persisted state may be stale).
 */
async function coordinatorsOf(store: SqlMetadataStore): Promise<(groupId: string) => { shard: number | null; coordinator: number | null }> {
  const [leases, agents, now] = await Promise.all([store.listCoordinatorLeases(), store.listAgents(), store.now()]);
  const shards = leases.filter((l) => l.shard >= 0);
  if (shards.length === 0) return () => ({ shard: null, coordinator: null });
  const count = Math.max(...shards.map((l) => l.shard)) + 1;
  const nodeOf = new Map(agents.map((a) => [a.agentId, a.nodeId]));
  const holder = new Map(shards.filter((l) => l.leaseExpiresAt > now).map((l) => [l.shard, nodeOf.get(l.leaderAgentId) ?? null]));
  return (groupId) => {
    const shard = shardFor(groupId, count);
    return { shard, coordinator: holder.get(shard) ?? null };
  };
}

function assignmentOf(bytes: Buffer, protocolType: string | null): MemberDetail['assignment'] {
  if (protocolType !== 'consumer' || bytes.length === 0) return null;
  try {
    const { assignment } = decodeAssignment(bytes);
    return assignment.assignedPartitions.map((t) => ({ topic: t.topic, partitions: [...t.partitions].sort((a, b) => a - b) }));
  } catch {
    return null; // not the standard consumer protocol layout
  }
}

/** A group as its coordinator last saved it (database targets). */
function storedSummary(g: GroupRecord) {
  return { groupId: g.groupId, state: g.state, protocolType: g.protocolType, protocol: g.protocolName, generation: g.generation, members: g.members.length };
}

export async function listGroups(target: Target): Promise<GroupList> {
  if (target.kind === 'db') {
    const [groups, where] = await Promise.all([target.store.listGroups(), coordinatorsOf(target.store)]);
    return {
      source: 'database',
      groups: groups.map((g) => ({ ...where(g.groupId), ...storedSummary(g) })),
    };
  }
  const { client } = target;
  const listed = await client.listGroups();
  const byCoordinator = new Map<number, string[]>();
  for (const g of listed) byCoordinator.set(g.coordinator, [...(byCoordinator.get(g.coordinator) ?? []), g.groupId]);
  const described = new Map<string, DescribeGroupsResponseDescribedGroup>();
  await Promise.all(
    [...byCoordinator].map(async ([node, ids]) => {
      for (const d of await client.describeGroups(node, ids)) if (d.errorCode === 0) described.set(d.groupId, d);
    }),
  );
  return {
    source: 'broker',
    groups: listed.map((g) => {
      const d = described.get(g.groupId);
      return {
        groupId: g.groupId,
        state: d?.groupState ?? g.state,
        protocolType: g.protocolType || null,
        protocol: d?.protocolData || null,
        generation: null,
        members: d?.members.length ?? null,
        coordinator: g.coordinator,
        shard: null,
      };
    }),
  };
}

export function renderGroupList(list: GroupList): string {
  return formatTable(
    [
      { header: 'GROUP', value: (g: GroupSummary) => g.groupId },
      { header: 'STATE', value: (g) => g.state },
      { header: 'PROTOCOL-TYPE', value: (g) => g.protocolType },
      { header: 'PROTOCOL', value: (g) => g.protocol },
      ...(list.source === 'database' ? [{ header: 'GENERATION', value: (g: GroupSummary) => g.generation, align: 'right' as const }] : []),
      { header: 'COORDINATOR', value: (g) => g.coordinator, align: 'right' },
      { header: 'MEMBERS', value: (g) => g.members, align: 'right' },
    ],
    list.groups,
    { empty: '(no groups)' },
  );
}

export async function describeGroup(target: Target, groupId: string): Promise<GroupDescription> {
  if (target.kind === 'db') {
    const [g, where] = await Promise.all([target.store.getGroup(groupId), coordinatorsOf(target.store)]);
    if (g === undefined) throw new AdminError(`unknown group "${groupId}"`);
    return {
      source: 'database',
      ...where(groupId),
      ...storedSummary(g),
      leader: g.leaderId,
      updatedAt: g.updatedAt,
      memberList: (g.members as StoredMember[]).map((m) => ({
        memberId: m.memberId ?? '',
        groupInstanceId: m.groupInstanceId ?? null,
        clientId: m.clientId ?? '',
        clientHost: m.clientHost ?? '',
        assignment: assignmentOf(Buffer.from(m.assignment ?? '', 'base64'), g.protocolType),
      })),
    };
  }
  const { client } = target;
  const coordinator = await client.coordinator(groupId);
  const [d] = await client.describeGroups(coordinator, [groupId]);
  if (d === undefined || (d.groupState === 'Dead' && d.members.length === 0)) throw new AdminError(`unknown group "${groupId}"`);
  if (d.errorCode !== 0) throw new AdminError(`group "${groupId}": the coordinator (broker ${coordinator}) answered ${errorName(d.errorCode)}`);
  const protocolType = d.protocolType || null;
  return {
    source: 'broker',
    groupId,
    state: d.groupState,
    protocolType,
    protocol: d.protocolData || null,
    generation: null,
    members: d.members.length,
    coordinator,
    shard: null,
    leader: null,
    updatedAt: null,
    memberList: d.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: assignmentOf(m.memberAssignment, protocolType),
    })),
  };
}

function assignmentText(a: MemberDetail['assignment']): string | null {
  if (a === null) return null;
  if (a.length === 0) return '(none)';
  return a.map((t) => `${t.topic}:${formatRanges(t.partitions)}`).join(' ');
}

export function renderGroupDescription(d: GroupDescription): string {
  const head = formatFields([
    ['Group', d.groupId],
    ['State', d.state],
    ['Protocol type', d.protocolType],
    ['Protocol', d.protocol],
    ...(d.source === 'database'
      ? ([
          ['Generation', d.generation],
          ['Leader', d.leader],
          ['Updated', formatTime(d.updatedAt)],
          ['Shard', d.shard],
          ['Coordinator', d.coordinator === null ? 'none (no agent holds the shard: the state is as last saved)' : d.coordinator],
        ] as const)
      : ([['Coordinator', d.coordinator]] as const)),
    ['Members', d.members],
  ]);
  const table = formatTable(
    [
      { header: 'MEMBER-ID', value: (m: MemberDetail) => m.memberId },
      { header: 'INSTANCE-ID', value: (m) => m.groupInstanceId },
      { header: 'CLIENT-ID', value: (m) => m.clientId },
      { header: 'HOST', value: (m) => m.clientHost },
      { header: 'ASSIGNMENT', value: (m) => assignmentText(m.assignment) },
    ],
    d.memberList,
    { empty: '(no members)' },
  );
  return `${head}\n\n${table}`;
}
