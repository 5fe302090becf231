// `streamhouse lag [--group ID] [--topic NAME]`: per group and partition, the committed offset, the
// high watermark and the lag between them (high watermark − committed offset, as kafka-consumer-groups
// prints it). Database: committed offsets and partitions read directly. Broker: OffsetFetch at each
// group's coordinator and ListOffsets (latest) at each partition's leader.
import { ErrorCode } from '../../protocol/index.js';
import { partitionKey } from './broker-client.js';
import { AdminError } from './errors.js';
import { formatTable } from './table.js';
import type { Target } from './target.js';

export interface LagPartition {
  topic: string;
  partition: number;
  /** null when the group committed a negative offset (a reset) for it. */
  committedOffset: number | null;
  logStartOffset: number | null;
  /** null when the partition no longer exists or its leader did not answer. */
  highWatermark: number | null;
  lag: number | null;
}

export interface GroupLag {
  groupId: string;
  state: string | null;
  /** Sum of the known lags. */
  totalLag: number;
  partitions: LagPartition[];
}

export interface LagReport {
  source: 'database' | 'broker';
  groups: GroupLag[];
}

export interface LagOptions {
  group?: string;
  topic?: string;
}

function lagOf(committed: number | null, hw: number | null): number | null {
  if (committed === null || hw === null) return null;
  return Math.max(0, hw - committed);
}

function finish(groupId: string, state: string | null, partitions: LagPartition[]): GroupLag {
  partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  return { groupId, state, totalLag: partitions.reduce((a, p) => a + (p.lag ?? 0), 0), partitions };
}

export async function collectLag(target: Target, opts: LagOptions = {}): Promise<LagReport> {
  const keep = (topic: string) => opts.topic === undefined || topic === opts.topic;
  if (target.kind === 'db') {
    const { store } = target;
    let groups: Array<{ groupId: string; state: string }>;
    if (opts.group !== undefined) {
      const g = await store.getGroup(opts.group);
      if (g === undefined) throw new AdminError(`unknown group "${opts.group}"`);
      groups = [g];
    } else {
      groups = await store.listGroups();
    }
    const partitionsOf = new Map<string, Promise<Map<number, { hw: number; ls: number }>>>();
    const topicPartitions = (topic: string) => {
      let p = partitionsOf.get(topic);
      if (p === undefined) {
        p = store.getPartitions(topic).then((ps) => new Map(ps.map((x) => [x.partitionId, { hw: x.highWatermark, ls: x.logStartOffset }])));
        partitionsOf.set(topic, p);
      }
      return p;
    };
    const out: GroupLag[] = [];
    for (const g of groups) {
      const offsets = (await store.fetchOffsets(g.groupId)).filter((o) => keep(o.topic));
      const rows: LagPartition[] = [];
      for (const o of offsets) {
        const p = (await topicPartitions(o.topic)).get(o.partitionId);
        const committed = o.offset >= 0 ? o.offset : null;
        rows.push({
          topic: o.topic,
          partition: o.partitionId,
          committedOffset: committed,
          logStartOffset: p?.ls ?? null,
          highWatermark: p?.hw ?? null,
          lag: lagOf(committed, p?.hw ?? null),
        });
      }
      out.push(finish(g.groupId, g.state, rows));
    }
    return { source: 'database', groups: out };
  }

  const { client } = target;
  let groups: Array<{ groupId: string; coordinator: number }>;
  if (opts.group !== undefined) {
    groups = [{ groupId: opts.group, coordinator: await client.coordinator(opts.group) }];
  } else {
    groups = (await client.listGroups()).map((g) => ({ groupId: g.groupId, coordinator: g.coordinator }));
  }
  const perGroup = await Promise.all(
    groups.map(async (g) => {
      const [offsets, [described]] = await Promise.all([client.fetchOffsets(g.groupId, g.coordinator), client.describeGroups(g.coordinator, [g.groupId])]);
      const state = described?.errorCode === ErrorCode.NONE ? described.groupState : null;
      return { ...g, state, offsets: offsets.filter((o) => keep(o.topic)) };
    }),
  );
  if (opts.group !== undefined && perGroup[0]!.offsets.length === 0 && (perGroup[0]!.state === 'Dead' || perGroup[0]!.state === null)) {
    throw new AdminError(`unknown group "${opts.group}"`);
  }
  const topics = [...new Set(perGroup.flatMap((g) => g.offsets.map((o) => o.topic)))];
  const leaders = new Map<string, number>();
  if (topics.length > 0) {
    const md = await client.metadata(topics);
    for (const t of md.topics) {
      if (t.errorCode !== ErrorCode.NONE || t.name === null) continue;
      for (const p of t.partitions) leaders.set(partitionKey(t.name, p.partitionIndex), p.leaderId);
    }
  }
  const refs = perGroup.flatMap((g) =>
    g.offsets.map((o) => ({ topic: o.topic, partition: o.partition, leader: leaders.get(partitionKey(o.topic, o.partition)) ?? -1 })),
  );
  const unique = [...new Map(refs.map((r) => [partitionKey(r.topic, r.partition), r])).values()];
  const [latest, earliest] = await Promise.all([client.listOffsets(unique, -1), client.listOffsets(unique, -2)]);
  return {
    source: 'broker',
    groups: perGroup.map((g) =>
      finish(
        g.groupId,
        g.state,
        g.offsets.map((o) => {
          const hw = latest.get(partitionKey(o.topic, o.partition)) ?? null;
          const committed = o.offset >= 0 ? o.offset : null;
          return {
            topic: o.topic,
            partition: o.partition,
            committedOffset: committed,
            logStartOffset: earliest.get(partitionKey(o.topic, o.partition)) ?? null,
            highWatermark: hw,
            lag: lagOf(committed, hw),
          };
        }),
      ),
    ),
  };
}

interface Row extends LagPartition {
  groupId: string;
}

export function renderLag(report: LagReport): string {
  const rows: Row[] = report.groups.flatMap((g) => g.partitions.map((p) => ({ ...p, groupId: g.groupId })));
  const table = formatTable(
    [
      { header: 'GROUP', value: (r: Row) => r.groupId },
      { header: 'TOPIC', value: (r) => r.topic },
      { header: 'PARTITION', value: (r) => r.partition },
      { header: 'COMMITTED', value: (r) => r.committedOffset, align: 'right' },
      { header: 'HIGH-WATERMARK', value: (r) => r.highWatermark, align: 'right' },
      { header: 'LAG', value: (r) => r.lag, align: 'right' },
    ],
    rows,
    { empty: '(no committed offsets)' },
  );
  const totals = formatTable(
    [
      { header: 'GROUP', value: (g: GroupLag) => g.groupId },
      { header: 'STATE', value: (g) => g.state },
      { header: 'PARTITIONS', value: (g) => g.partitions.length },
      { header: 'TOTAL-LAG', value: (g) => g.totalLag },
    ],
    report.groups,
    { empty: '(no groups)' },
  );
  return `${table}\n\n${totals}`;
}
