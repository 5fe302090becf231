// OffsetDelete: removes committed offsets of a group, except for topics an active member subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC).
import { ApiKey } from '../../protocol/index.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    const r = await ctx.broker.groups.deleteOffsets(
      req.groupId,
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    return { throttleTimeMs: 0, errorCode: r.errorCode, topics: r.topics };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, topics: [] };
  },
});
