// OffsetCommit: stores a group's consumed positions, all partitions of a request in one statement.
// v0 carries no generation or member (a consumer outside group management); v1 has per-partition
// commit timestamps; v6+ leader epochs; v7+ group.instance.id. Errors are per partition.
import { ApiKey, ErrorCode, type OffsetCommitRequest } from '../../protocol/index.js';
import { AclOperation, allowedGroup, allowedTopic } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    // Kafka: READ on the group, else every partition fails; then READ on each topic.
    if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED })) })) };
    const denied = req.topics.filter((t) => !allowedTopic(ctx, AclOperation.READ, t.name));
    const refused = denied.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }));
    const permitted = denied.length === 0 ? req.topics : req.topics.filter((t) => !denied.includes(t));
    if (permitted.length === 0 && denied.length > 0) return { throttleTimeMs: 0, topics: refused };
    const topics = await ctx.broker.groups.commitOffsets({
      groupId: req.groupId,
      generationId: v >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1,
      memberId: v >= 1 ? (req.memberId ?? '') : '',
      groupInstanceId: v >= 7 ? (req.groupInstanceId ?? null) : null,
      apiVersion: v,
      topics: permitted.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          committedOffset: p.committedOffset,
          committedLeaderEpoch: v >= 6 ? (p.committedLeaderEpoch ?? -1) : -1,
          commitTimestamp: v === 1 ? (p.commitTimestamp ?? -1) : -1,
          committedMetadata: p.committedMetadata,
        })),
      })),
    });
    return { throttleTimeMs: 0, topics: refused.length === 0 ? topics : [...topics, ...refused] };
  },
  errorResponse(req: OffsetCommitRequest, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
    };
  },
});
