// DescribeTransactions (KIP-664): the state of transactional ids this agent coordinates.
import { ApiKey, ErrorCode, type ErrorCodeValue, type DescribeTransactionsRequest } from '../../protocol/index.js';
import { AclOperation, ResourceType, allowed } from '../security/authorize.js';
import { defineHandler } from './types.js';

const none = (transactionalId: string, errorCode: ErrorCodeValue) => ({
  errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topicPartitions: [],
});

export const handler = defineHandler({
  apiKey: ApiKey.DescribeTransactions,
  minVersion: 0,
  maxVersion: 0,
  async handle(req, ctx) {
    const txns = ctx.broker.transactions;
    const transactionStates = await Promise.all(
      req.transactionalIds.map(async (id) => {
        if (!allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, id)) return none(id, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        if (txns === undefined) return none(id, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
        const r = await txns.coordinator.describe(id);
        if (r.txn === undefined) return none(id, r.errorCode);
        const t = r.txn;
        const byTopic = new Map<string, number[]>();
        for (const [topic, p] of t.partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), p]);
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: t.state,
          transactionTimeoutMs: t.timeoutMs,
          transactionStartTimeMs: t.startedAt,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          topicPartitions: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        };
      }),
    );
    return { throttleTimeMs: 0, transactionStates };
  },
  errorResponse(req: DescribeTransactionsRequest, errorCode) {
    return { throttleTimeMs: 0, transactionStates: req.transactionalIds.map((id) => none(id, errorCode)) };
  },
});
