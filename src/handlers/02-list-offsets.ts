// ListOffsets: earliest (log start offset), latest (high watermark; equals the last stable offset
// since there are no transactions), by timestamp (first offset whose batch holds a record at or after
// it), and max timestamp (v7+). v0 answers in the old offsets-array form.
import { ApiKey, ErrorCode, KafkaError, type ErrorCodeValue, type ListOffsetsRequest, type ListOffsetsRequestListOffsetsPartition } from '../../protocol/index.js';
import type { TopicRecord } from '../../metadata/types.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

/** Special timestamps of ListOffsets. */
export const ListOffsetsTimestamp = {
  LATEST: -1,
  EARLIEST: -2,
  MAX_TIMESTAMP: -3,
  EARLIEST_LOCAL: -4,
  LATEST_TIERED: -5,
} as const;

interface PartitionAnswer {
  partitionIndex: number;
  errorCode: ErrorCodeValue;
  oldStyleOffsets: number[];
  timestamp: number;
  offset: number;
  leaderEpoch: number;
}

function failed(partitionIndex: number, errorCode: ErrorCodeValue): PartitionAnswer {
  return { partitionIndex, errorCode, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: -1 };
}

async function answer(topic: TopicRecord | undefined, p: ListOffsetsRequestListOffsetsPartition, ctx: RequestContext, readCommitted: boolean): Promise<PartitionAnswer> {
  if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) {
    return failed(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }
  const log = ctx.broker.partitions;
  try {
    const st = await log.state(topic.name, p.partitionIndex, { stable: readCommitted });
    const current = p.currentLeaderEpoch ?? -1;
    if (current >= 0 && current < st.leaderEpoch) return failed(p.partitionIndex, ErrorCode.FENCED_LEADER_EPOCH);
    if (current > st.leaderEpoch) return failed(p.partitionIndex, ErrorCode.UNKNOWN_LEADER_EPOCH);
    const found = (offset: number, timestamp = -1): PartitionAnswer => ({
      partitionIndex: p.partitionIndex,
      errorCode: ErrorCode.NONE,
      oldStyleOffsets: offset >= 0 ? [offset] : [],
      timestamp,
      offset,
      leaderEpoch: offset >= 0 ? st.leaderEpoch : -1,
    });
    switch (p.timestamp) {
      case ListOffsetsTimestamp.LATEST:
      case ListOffsetsTimestamp.LATEST_TIERED:
        // read_committed: the last stable offset (Kafka's isolation level rule).
        return found(readCommitted ? st.lastStableOffset : st.highWatermark);
      case ListOffsetsTimestamp.EARLIEST:
      case ListOffsetsTimestamp.EARLIEST_LOCAL:
        return found(st.logStartOffset);
      case ListOffsetsTimestamp.MAX_TIMESTAMP: {
        const max = await log.maxTimestamp(topic.name, p.partitionIndex);
        return max === undefined ? found(-1) : found(max.offset, max.timestamp);
      }
      default: {
        if (p.timestamp < 0) return failed(p.partitionIndex, ErrorCode.INVALID_REQUEST);
        const hit = await log.offsetForTimestamp(topic.name, p.partitionIndex, p.timestamp);
        return hit === undefined ? found(-1) : found(hit.offset, hit.timestamp);
      }
    }
  } catch (err) {
    if (err instanceof KafkaError) return failed(p.partitionIndex, err.code);
    ctx.broker.log.error({ err }, 'list offsets failed');
    return failed(p.partitionIndex, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

export const handler = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 0,
  maxVersion: 10,
  async handle(req, ctx) {
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        if (!allowedTopic(ctx, AclOperation.DESCRIBE, t.name)) {
          return { name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) };
        }
        const topic = await ctx.broker.metadata.getTopic(t.name);
        return { name: t.name, partitions: await Promise.all(t.partitions.map((p) => answer(topic, p, ctx, ctx.apiVersion >= 2 && req.isolationLevel === 1))) };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(req: ListOffsetsRequest, errorCode) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, errorCode)) })) };
  },
});
