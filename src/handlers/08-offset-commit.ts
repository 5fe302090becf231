// OffsetCommit: stores a group's consumed positions, all partitions of a request in one statement.
// v0 carries no generation or member (a consumer outside group management); v1 has per-partition
// commit timestamps; v6+ leader epochs; v7+ group.instance.id. Errors are per partition.
import { ApiKey, type OffsetCommitRequest } from '../../protocol/index.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    const topics = await ctx.broker.groups.commitOffsets({
      groupId: req.groupId,
      generationId: v >= 1 ? (req.generationIdOrMemberEpoch ?? -1) : -1,
      memberId: v >= 1 ? (req.memberId ?? '') : '',
      groupInstanceId: v >= 7 ? (req.groupInstanceId ?? null) : null,
      apiVersion: v,
      topics: req.topics.map((t) => ({
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
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(req: OffsetCommitRequest, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
    };
  },
});
