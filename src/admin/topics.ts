// `streamhouse topics` (every topic: partitions, records, bytes, segments) and `topics describe NAME`
// (per partition: leader node and lease epoch, log start offset, high watermark, records, bytes,
// segment count). From the database everything is known; through a broker, sizes and segments are
// not Kafka-visible and print as "-" (null in JSON).
import { ErrorCode, errorName } from '../../protocol/index.js';
import { partitionKey } from './broker-client.js';
import { AdminError } from './errors.js';
import { formatBytes, formatFields, formatRelative, formatTable, formatTime } from './table.js';
import type { Target } from './target.js';

export interface TopicSummary {
  name: string;
  topicId: string | null;
  partitions: number;
  /** Sum over partitions of high watermark − log start offset. */
  records: number | null;
  /** Record bytes (uncompressed) and bytes stored in segment objects; database only. */
  sizeBytes: number | null;
  storedBytes: number | null;
  segments: number | null;
}

export interface TopicList {
  source: 'database' | 'broker';
  topics: TopicSummary[];
}

export interface PartitionDetail {
  partition: number;
  /** Node id of the leader: the holder of an unexpired lease (database), or as Metadata says (broker). */
  leader: number | null;
  /** The lease epoch (= Kafka leader epoch). */
  leaderEpoch: number | null;
  leaseHolder: string | null;
  leaseExpiresAt: number | null;
  logStartOffset: number | null;
  highWatermark: number | null;
  records: number | null;
  sizeBytes: number | null;
  storedBytes: number | null;
  segments: number | null;
}

export interface TopicDescription {
  source: 'database' | 'broker';
  name: string;
  topicId: string | null;
  partitionCount: number;
  createdAt: number | null;
  /** Topic-level config overrides (database; `configs TOPIC` shows every config). */
  configOverrides: Record<string, string> | null;
  /** The database clock when read (lease expiry is judged on it). */
  databaseTime: number | null;
  partitions: PartitionDetail[];
}

const sum = (xs: Array<number | null>): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, b) => a + (b ?? 0), 0));

export async function listTopics(target: Target): Promise<TopicList> {
  if (target.kind === 'db') {
    const { store } = target;
    const [topics, stats] = await Promise.all([store.listTopics(), store.segmentStats()]);
    const byTopic = new Map<string, { segments: number; size: number; stored: number }>();
    for (const s of stats) {
      const t = byTopic.get(s.topic) ?? { segments: 0, size: 0, stored: 0 };
      t.segments += s.segmentCount;
      t.size += s.sizeBytes;
      t.stored += s.storedBytes;
      byTopic.set(s.topic, t);
    }
    const out: TopicSummary[] = [];
    for (const t of topics) {
      const parts = await store.getPartitions(t.name);
      const s = byTopic.get(t.name);
      out.push({
        name: t.name,
        topicId: t.topicId,
        partitions: t.partitionCount,
        records: parts.reduce((a, p) => a + (p.highWatermark - p.logStartOffset), 0),
        sizeBytes: s?.size ?? 0,
        storedBytes: s?.stored ?? 0,
        segments: s?.segments ?? 0,
      });
    }
    return { source: 'database', topics: out };
  }
  const { client } = target;
  const md = await client.metadata(null);
  const topics = md.topics.filter((t) => t.errorCode === ErrorCode.NONE && t.name !== null && !t.isInternal);
  const parts = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name!, partition: p.partitionIndex, leader: p.leaderId })));
  const [latest, earliest] = await Promise.all([client.listOffsets(parts, -1), client.listOffsets(parts, -2)]);
  return {
    source: 'broker',
    topics: topics
      .map((t) => ({
        name: t.name!,
        topicId: t.topicId && !/^0{8}-/.test(t.topicId) ? t.topicId : null,
        partitions: t.partitions.length,
        records: sum(
          t.partitions.map((p) => {
            const hw = latest.get(partitionKey(t.name!, p.partitionIndex));
            const ls = earliest.get(partitionKey(t.name!, p.partitionIndex));
            return hw == null || ls == null ? null : hw - ls;
          }),
        ),
        sizeBytes: null,
        storedBytes: null,
        segments: null,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

export function renderTopicList(list: TopicList): string {
  return formatTable(
    [
      { header: 'TOPIC', value: (t: TopicSummary) => t.name },
      { header: 'PARTITIONS', value: (t) => t.partitions },
      { header: 'RECORDS', value: (t) => t.records },
      { header: 'SIZE', value: (t) => formatBytes(t.sizeBytes), align: 'right' },
      { header: 'STORED', value: (t) => formatBytes(t.storedBytes), align: 'right' },
      { header: 'SEGMENTS', value: (t) => t.segments, align: 'right' },
    ],
    list.topics,
    { empty: '(no topics)' },
  );
}

export async function describeTopic(target: Target, name: string): Promise<TopicDescription> {
  if (target.kind === 'db') {
    const { store } = target;
    const topic = await store.getTopic(name);
    if (topic === undefined) throw new AdminError(`unknown topic "${name}"`);
    const [partitions, stats, leases, agents, now] = await Promise.all([
      store.getPartitions(name),
      store.segmentStats(name),
      store.listPartitionLeases(name),
      store.listAgents(),
      store.now(),
    ]);
    const nodeOf = new Map(agents.map((a) => [a.agentId, a.nodeId]));
    const statOf = new Map(stats.map((s) => [s.partitionId, s]));
    const leaseOf = new Map(leases.map((l) => [l.partitionId, l]));
    return {
      source: 'database',
      name: topic.name,
      topicId: topic.topicId,
      partitionCount: topic.partitionCount,
      createdAt: topic.createdAt,
      configOverrides: topic.config,
      databaseTime: now,
      partitions: partitions.map((p) => {
        const l = leaseOf.get(p.partitionId);
        const s = statOf.get(p.partitionId);
        const valid = l !== undefined && l.leaseExpiresAt > now;
        return {
          partition: p.partitionId,
          leader: valid ? (nodeOf.get(l.leaderAgentId) ?? null) : null,
          leaderEpoch: p.leaderEpoch,
          leaseHolder: l?.leaderAgentId ?? null,
          leaseExpiresAt: l?.leaseExpiresAt ?? null,
          logStartOffset: p.logStartOffset,
          highWatermark: p.highWatermark,
          records: p.highWatermark - p.logStartOffset,
          sizeBytes: s?.sizeBytes ?? 0,
          storedBytes: s?.storedBytes ?? 0,
          segments: s?.segmentCount ?? 0,
        };
      }),
    };
  }
  const { client } = target;
  const md = await client.metadata([name]);
  const t = md.topics.find((x) => x.name === name);
  if (t === undefined || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) throw new AdminError(`unknown topic "${name}"`);
  if (t.errorCode !== ErrorCode.NONE) throw new AdminError(`topic "${name}": the broker answered ${errorName(t.errorCode)}`);
  const parts = [...t.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
  const refs = parts.map((p) => ({ topic: name, partition: p.partitionIndex, leader: p.leaderId }));
  const [latest, earliest] = await Promise.all([client.listOffsets(refs, -1), client.listOffsets(refs, -2)]);
  return {
    source: 'broker',
    name,
    topicId: t.topicId && !/^0{8}-/.test(t.topicId) ? t.topicId : null,
    partitionCount: parts.length,
    createdAt: null,
    configOverrides: null,
    databaseTime: null,
    partitions: parts.map((p) => {
      const hw = latest.get(partitionKey(name, p.partitionIndex)) ?? null;
      const ls = earliest.get(partitionKey(name, p.partitionIndex)) ?? null;
      return {
        partition: p.partitionIndex,
        leader: p.leaderId >= 0 ? p.leaderId : null,
        leaderEpoch: p.leaderEpoch !== undefined && p.leaderEpoch >= 0 ? p.leaderEpoch : null,
        leaseHolder: null,
        leaseExpiresAt: null,
        logStartOffset: ls,
        highWatermark: hw,
        records: hw === null || ls === null ? null : hw - ls,
        sizeBytes: null,
        storedBytes: null,
        segments: null,
      };
    }),
  };
}

export function renderTopicDescription(d: TopicDescription): string {
  const now = d.databaseTime;
  const overrides = d.configOverrides === null ? null : Object.entries(d.configOverrides).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)';
  const head = formatFields([
    ['Topic', d.name],
    ['Topic id', d.topicId],
    ['Partitions', d.partitionCount],
    ['Records', sum(d.partitions.map((p) => p.records))],
    ...(d.source === 'database'
      ? ([
          ['Size', `${formatBytes(sum(d.partitions.map((p) => p.sizeBytes)))} in records, ${formatBytes(sum(d.partitions.map((p) => p.storedBytes)))} stored, ${sum(d.partitions.map((p) => p.segments))} segments`],
          ['Created', formatTime(d.createdAt)],
          ['Config overrides', overrides],
        ] as const)
      : []),
  ]);
  const table = formatTable(
    [
      { header: 'PARTITION', value: (p: PartitionDetail) => p.partition },
      { header: 'LEADER', value: (p) => p.leader, align: 'right' },
      { header: 'EPOCH', value: (p) => p.leaderEpoch, align: 'right' },
      { header: 'LOG-START', value: (p) => p.logStartOffset, align: 'right' },
      { header: 'HIGH-WATERMARK', value: (p) => p.highWatermark, align: 'right' },
      { header: 'RECORDS', value: (p) => p.records, align: 'right' },
      ...(d.source === 'database'
        ? [
            { header: 'SIZE', value: (p: PartitionDetail) => formatBytes(p.sizeBytes), align: 'right' as const },
            { header: 'SEGMENTS', value: (p: PartitionDetail) => p.segments, align: 'right' as const },
            { header: 'LEASE-HOLDER', value: (p: PartitionDetail) => p.leaseHolder },
            { header: 'LEASE-EXPIRES', value: (p: PartitionDetail) => (now === null ? null : formatRelative(p.leaseExpiresAt, now)) },
          ]
        : []),
    ],
    d.partitions,
  );
  return `${head}\n\n${table}`;
}
