// DeleteRecords: moves each partition's log start offset forward (offset -1 = the high watermark).
// Records below it are no longer served; their objects go with retention.
import { ApiKey, ErrorCode, KafkaError, type DeleteRecordsRequest, type DeleteRecordsRequestDeleteRecordsPartition, type ErrorCodeValue } from '../../protocol/index.js';
import type { TopicRecord } from '../../metadata/types.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const failed = (partitionIndex: number, errorCode: ErrorCodeValue) => ({ partitionIndex, lowWatermark: -1, errorCode });

async function deletePartition(topic: TopicRecord | undefined, p: DeleteRecordsRequestDeleteRecordsPartition, ctx: RequestContext) {
  if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) return failed(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  try {
    const st = await ctx.broker.partitions.state(topic.name, p.partitionIndex);
    const offset = p.offset === -1 ? st.highWatermark : p.offset;
    if (offset < 0 || offset > st.highWatermark) return failed(p.partitionIndex, ErrorCode.OFFSET_OUT_OF_RANGE);
    const lowWatermark = await ctx.broker.partitions.deleteRecords(topic.name, p.partitionIndex, offset);
    return { partitionIndex: p.partitionIndex, lowWatermark, errorCode: ErrorCode.NONE };
  } catch (err) {
    if (err instanceof KafkaError) return failed(p.partitionIndex, err.code);
    ctx.broker.log.error({ err }, 'delete records failed');
    return failed(p.partitionIndex, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

export const handler = defineHandler({
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const topics = await Promise.all(
      req.topics.map(async (t) => {
        if (!allowedTopic(ctx, AclOperation.DELETE, t.name)) {
          return { name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) };
        }
        const topic = await ctx.broker.metadata.getTopic(t.name);
        return { name: t.name, partitions: await Promise.all(t.partitions.map((p) => deletePartition(topic, p, ctx))) };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(req: DeleteRecordsRequest, errorCode) {
    return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => failed(p.partitionIndex, errorCode)) })) };
  },
});
