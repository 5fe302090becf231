// OffsetForLeaderEpoch: the end offset of a leader epoch. Committed data is never truncated here (a
// flush commit is fenced, so no two leaders ever write the same offsets), so no consumer can be ahead
// of the high watermark: for the current epoch or any older one we answer the high watermark, which
// never makes a client truncate. An epoch newer than ours is unknown.
import { ApiKey, ErrorCode, KafkaError, type ErrorCodeValue, type OffsetForLeaderEpochRequest, type OffsetForLeaderEpochRequestOffsetForLeaderPartition } from '../../protocol/index.js';
import type { TopicRecord } from '../../metadata/types.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const failed = (partition: number, errorCode: ErrorCodeValue) => ({ errorCode, partition, leaderEpoch: -1, endOffset: -1 });

async function endOffset(topic: TopicRecord | undefined, p: OffsetForLeaderEpochRequestOffsetForLeaderPartition, ctx: RequestContext) {
  if (topic === undefined || p.partition < 0 || p.partition >= topic.partitionCount) return failed(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  try {
    const st = await ctx.broker.partitions.state(topic.name, p.partition);
    const current = p.currentLeaderEpoch ?? -1;
    if (current >= 0 && current < st.leaderEpoch) return failed(p.partition, ErrorCode.FENCED_LEADER_EPOCH);
    if (current > st.leaderEpoch) return failed(p.partition, ErrorCode.UNKNOWN_LEADER_EPOCH);
    if (p.leaderEpoch > st.leaderEpoch) return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
    return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: p.leaderEpoch, endOffset: st.highWatermark };
  } catch (err) {
    if (err instanceof KafkaError) return failed(p.partition, err.code);
    ctx.broker.log.error({ err }, 'offset for leader epoch failed');
    return failed(p.partition, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

export const handler = defineHandler({
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        if (!allowedTopic(ctx, AclOperation.DESCRIBE, t.topic)) {
          return { topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) };
        }
        const topic = await ctx.broker.metadata.getTopic(t.topic);
        return { topic: t.topic, partitions: await Promise.all(t.partitions.map((p) => endOffset(topic, p, ctx))) };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(req: OffsetForLeaderEpochRequest, errorCode) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, errorCode)) })) };
  },
});
