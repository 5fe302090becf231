// AddPartitionsToTxn: a transactional producer names the partitions it is about to write (v0-3: one
// transaction; v4+: several, each possibly verify-only — KIP-890's check by a partition leader).
import { ApiKey, ErrorCode, type AddPartitionsToTxnRequest, type AddPartitionsToTxnRequestAddPartitionsToTxnTopic, type ErrorCodeValue } from '../../protocol/index.js';
import { fencedCode } from '../transactions/index.js';
import { AclOperation, ResourceType, allowed, allowedOnCluster, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

function results(topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[], codes: (i: number) => ErrorCodeValue) {
  let i = 0;
  return topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: codes(i++) })) }));
}

async function one(id: string, producerId: number, producerEpoch: number, topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[], verifyOnly: boolean, ctx: RequestContext) {
  const flat: Array<[string, number]> = topics.flatMap((t) => t.partitions.map((p): [string, number] => [t.name, p]));
  // Kafka: WRITE on the transactional id, then WRITE on each topic (the others OPERATION_NOT_ATTEMPTED).
  if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, id)) return results(topics, () => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const denied = new Set(topics.filter((t) => !allowedTopic(ctx, AclOperation.WRITE, t.name)).map((t) => t.name));
  if (denied.size > 0) {
    return topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: (denied.has(t.name) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED) as ErrorCodeValue })) }));
  }
  const txns = ctx.broker.transactions;
  const codes = txns === undefined
    ? flat.map(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED as ErrorCodeValue)
    : await txns.coordinator.addPartitions(id, producerId, producerEpoch, flat, verifyOnly);
  return results(topics, (i) => fencedCode(codes[i]!, ctx.apiVersion, 2));
}

function errorResponse(req: AddPartitionsToTxnRequest, errorCode: ErrorCodeValue, ctx: RequestContext) {
  if (ctx.apiVersion >= 4) {
    return { throttleTimeMs: 0, errorCode, resultsByTransaction: (req.transactions ?? []).map((t) => ({ transactionalId: t.transactionalId, topicResults: results(t.topics, () => errorCode) })) };
  }
  return { throttleTimeMs: 0, resultsByTopicV3AndBelow: results(req.v3AndBelowTopics ?? [], () => errorCode) };
}

export const handler = defineHandler({
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    if (ctx.apiVersion >= 4) {
      // The batched form (v4+) is for brokers: CLUSTER_ACTION, as Kafka.
      if (!allowedOnCluster(ctx, AclOperation.CLUSTER_ACTION)) return errorResponse(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ctx);
      const resultsByTransaction = await Promise.all(
        (req.transactions ?? []).map(async (t) => ({ transactionalId: t.transactionalId, topicResults: await one(t.transactionalId, t.producerId, t.producerEpoch, t.topics, t.verifyOnly, ctx) })),
      );
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
    }
    const topics = req.v3AndBelowTopics ?? [];
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow: await one(req.v3AndBelowTransactionalId ?? '', req.v3AndBelowProducerId ?? -1, req.v3AndBelowProducerEpoch ?? -1, topics, false, ctx) };
  },
  errorResponse,
});
