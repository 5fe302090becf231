// OffsetDelete: removes committed offsets of a group, except for topics an active member subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC).
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { AclOperation, allowedGroup, allowedTopic } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    // Kafka: DELETE on the group (a top-level error), then READ on each topic.
    if (!allowedGroup(ctx, AclOperation.DELETE, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] };
    const denied = req.topics.filter((t) => !allowedTopic(ctx, AclOperation.READ, t.name));
    const refused = denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }));
    const permitted = req.topics.filter((t) => !denied.includes(t));
    const r = await ctx.broker.groups.deleteOffsets(
      req.groupId,
      permitted.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    return { throttleTimeMs: 0, errorCode: r.errorCode, topics: refused.length === 0 ? r.topics : [...r.topics, ...refused] };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, topics: [] };
  },
});
