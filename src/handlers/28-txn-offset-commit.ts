// TxnOffsetCommit: offsets a transaction commits for a consumer group, sent to the group's
// coordinator; they become the group's committed offsets when the transaction commits (dropped if it
// aborts), in the statement that stores the decision.
import { ApiKey, ErrorCode, type ErrorCodeValue, type TxnOffsetCommitRequest } from '../../protocol/index.js';
import { fencedCode } from '../transactions/index.js';
import { AclOperation, ResourceType, allowed, allowedGroup, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

function errorResponse(req: TxnOffsetCommitRequest, errorCode: ErrorCodeValue) {
  return { throttleTimeMs: 0, topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })) };
}

async function handle(req: TxnOffsetCommitRequest, ctx: RequestContext) {
  const txns = ctx.broker.transactions;
  if (txns === undefined) return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  // Kafka: WRITE on the transactional id, READ on the group, READ on each topic.
  if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return errorResponse(req, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  if (req.groupId === '') return errorResponse(req, ErrorCode.INVALID_GROUP_ID);
  const codes = new Map<string, ErrorCodeValue>();
  const offsets = [];
  for (const t of req.topics) {
    if (!allowedTopic(ctx, AclOperation.READ, t.name)) {
      for (const p of t.partitions) codes.set(`${t.name}\u0000${p.partitionIndex}`, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      continue;
    }
    const topic = await ctx.broker.metadata.getTopic(t.name);
    for (const p of t.partitions) {
      const k = `${t.name}\u0000${p.partitionIndex}`;
      if (topic === undefined || p.partitionIndex < 0 || p.partitionIndex >= topic.partitionCount) codes.set(k, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      else if ((p.committedMetadata ?? '').length > ctx.broker.config.offsetMetadataMaxBytes) codes.set(k, ErrorCode.OFFSET_METADATA_TOO_LARGE);
      else offsets.push({ topic: t.name, partitionId: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata: p.committedMetadata ?? '' });
    }
  }
  const code = offsets.length === 0 ? ErrorCode.NONE : fencedCode(await txns.coordinator.txnOffsetCommit(req.transactionalId, req.groupId, req.producerId, req.producerEpoch, offsets), ctx.apiVersion, 3);
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codes.get(`${t.name}\u0000${p.partitionIndex}`) ?? code })) })),
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 4,
  handle,
  errorResponse,
});
