// OffsetFetch: committed offsets of a group (offset -1 where none). v2+ may ask for every partition
// (topics null) and carry a top-level error; v0–1 report group errors per partition; v7+ require_stable
// (KIP-447: a partition with offsets waiting for an open transaction is UNSTABLE_OFFSET_COMMIT, which
// the client retries); v8+ ask for several groups at once.
import { ApiKey, ErrorCode, type ErrorCodeValue, type OffsetFetchRequest, type OffsetFetchResponse } from '../../protocol/index.js';
import type { FetchOffsetsResult } from '../coordinator/index.js';
import { AclOperation, allowedGroup, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

type Topics = Array<{ name: string; partitionIndexes: number[] }> | null;

function groupsOf(req: OffsetFetchRequest, version: number): Array<{ groupId: string; topics: Topics }> {
  if (version >= 8) return (req.groups ?? []).map((g) => ({ groupId: g.groupId, topics: g.topics }));
  return [{ groupId: req.groupId ?? '', topics: req.topics ?? null }];
}

/** A group-level error spelled out per requested partition (v0–1 have no top-level error). */
function errorPerPartition(topics: Topics, errorCode: ErrorCodeValue): FetchOffsetsResult['topics'] {
  return (topics ?? []).map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode })),
  }));
}

function single(r: FetchOffsetsResult, topics: Topics, ctx: RequestContext): OffsetFetchResponse {
  if (ctx.apiVersion < 2 && r.errorCode !== ErrorCode.NONE) return { throttleTimeMs: 0, topics: errorPerPartition(topics, r.errorCode) };
  return { throttleTimeMs: 0, errorCode: r.errorCode, topics: r.topics };
}

/**
 * Kafka's checks: DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED), then DESCRIBE on each topic:
 * named partitions of other topics answer TOPIC_AUTHORIZATION_FAILED, and "all partitions" leaves
 * those topics out.
 */
async function fetchAuthorized(groupId: string, topics: Topics, ctx: RequestContext): Promise<FetchOffsetsResult> {
  if (!allowedGroup(ctx, AclOperation.DESCRIBE, groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] };
  if (topics === null) {
    const r = await ctx.broker.groups.fetchOffsets(groupId, null);
    return { errorCode: r.errorCode, topics: r.topics.filter((t) => allowedTopic(ctx, AclOperation.DESCRIBE, t.name)) };
  }
  const denied = topics.filter((t) => !allowedTopic(ctx, AclOperation.DESCRIBE, t.name));
  if (denied.length === 0) return ctx.broker.groups.fetchOffsets(groupId, topics);
  const refused = denied.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED as ErrorCodeValue })),
  }));
  const permitted = topics.filter((t) => !denied.includes(t));
  const r = permitted.length === 0 ? { errorCode: ErrorCode.NONE as ErrorCodeValue, topics: [] } : await ctx.broker.groups.fetchOffsets(groupId, permitted);
  return { errorCode: r.errorCode, topics: r.errorCode === ErrorCode.NONE ? [...r.topics, ...refused] : r.topics };
}

export const handler = defineHandler({
  apiKey: ApiKey.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    const groups = groupsOf(req, ctx.apiVersion);
    const results = await Promise.all(groups.map((g) => fetchAuthorized(g.groupId, g.topics, ctx)));
    const txns = ctx.broker.transactions;
    if (ctx.apiVersion >= 7 && req.requireStable === true && txns !== undefined) {
      await Promise.all(
        results.map(async (r, i) => {
          if (r.errorCode !== ErrorCode.NONE) return;
          const pending = await txns.coordinator.pendingOffsets(groups[i]!.groupId);
          if (pending.length === 0) return;
          const unstable = new Set(pending.map((p) => `${p.topic}\u0000${p.partitionId}`));
          for (const t of r.topics) {
            for (const p of t.partitions) {
              if (!unstable.has(`${t.name}\u0000${p.partitionIndex}`)) continue;
              p.errorCode = ErrorCode.UNSTABLE_OFFSET_COMMIT;
              p.committedOffset = -1;
            }
          }
        }),
      );
    }
    if (ctx.apiVersion >= 8) {
      return { throttleTimeMs: 0, groups: results.map((r, i) => ({ groupId: groups[i].groupId, errorCode: r.errorCode, topics: r.topics })) };
    }
    return single(results[0], groups[0].topics, ctx);
  },
  errorResponse(req, errorCode, ctx) {
    const groups = groupsOf(req, ctx.apiVersion);
    if (ctx.apiVersion >= 8) return { throttleTimeMs: 0, groups: groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })) };
    return single({ errorCode, topics: [] }, groups[0].topics, ctx);
  },
});
