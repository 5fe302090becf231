// Consumer lag, computed when /metrics is scraped: for each group this agent coordinates, the high
// watermark of every partition it committed an offset for, minus that offset. Bounded: one offsets
// query per group (at most `maxGroups`) and one partitions query per topic, and at most `maxSeries`
// partitions in all, so a scrape never turns into a scan of the whole offsets table.
import type { CommittedOffset, PartitionRecord } from '../../metadata/types.js';

export interface LagStore {
  fetchOffsets(groupId: string): Promise<CommittedOffset[]>;
  getPartitions(topic: string): Promise<PartitionRecord[]>;
}

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** High watermark minus the committed offset, never below 0. */
  lag: number;
}

export async function consumerLag(groups: readonly string[], store: LagStore, maxSeries: number, maxGroups = 1000): Promise<{ lags: PartitionLag[]; truncated: boolean }> {
  const lags: PartitionLag[] = [];
  const highWatermarks = new Map<string, Promise<Map<number, number>>>();
  const hwOf = (topic: string) => {
    let m = highWatermarks.get(topic);
    if (m === undefined) {
      m = store.getPartitions(topic).then((ps) => new Map(ps.map((p) => [p.partitionId, p.highWatermark])));
      highWatermarks.set(topic, m);
    }
    return m;
  };
  const sorted = [...groups].sort();
  for (const [i, group] of sorted.entries()) {
    if (i >= maxGroups) return { lags, truncated: true };
    const offsets = await store.fetchOffsets(group);
    for (const o of offsets) {
      if (lags.length >= maxSeries) return { lags, truncated: true };
      if (o.offset < 0) continue;
      const hw = (await hwOf(o.topic)).get(o.partitionId);
      if (hw === undefined) continue; // the topic or partition is gone
      lags.push({ group, topic: o.topic, partition: o.partitionId, lag: Math.max(0, hw - o.offset) });
    }
  }
  return { lags, truncated: false };
}
