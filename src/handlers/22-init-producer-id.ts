// InitProducerId: without a transactional id, an idempotent producer's id (epoch 0) from a database
// sequence, unique across agents; any agent answers (clients send this to any broker). Like Kafka, a
// request naming its current id and epoch (KIP-360, v3+) also gets a fresh id.
// With a transactional id, the transaction coordinator of its shard answers (src/transactions/): the
// id's producer id with the epoch bumped, an open transaction of the previous instance aborted.
import { ApiKey, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { AclOperation, ResourceType, allowed, allowedOnAny, allowedOnCluster } from '../security/authorize.js';
import { fencedCode } from '../transactions/index.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const refused = (errorCode: ErrorCodeValue) => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
    // An empty transactional id means none, as in Kafka.
    const transactionalId = req.transactionalId != null && req.transactionalId !== '' ? req.transactionalId : null;
    // Kafka: WRITE on the transactional id; without one, IDEMPOTENT_WRITE on the cluster or WRITE on
    // some topic.
    if (transactionalId !== null) {
      if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactionalId)) return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const txns = ctx.broker.transactions;
      if (txns === undefined) return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const r = await txns.coordinator.initProducerId(transactionalId, req.transactionTimeoutMs, req.producerId ?? -1, req.producerEpoch ?? -1);
      return { throttleTimeMs: 0, errorCode: fencedCode(r.errorCode, ctx.apiVersion, 4), producerId: r.producerId ?? -1, producerEpoch: r.producerEpoch ?? -1 };
    }
    if (!allowedOnCluster(ctx, AclOperation.IDEMPOTENT_WRITE) && !allowedOnAny(ctx, AclOperation.WRITE, ResourceType.TOPIC)) {
      return refused(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    const producerId = await ctx.broker.metadata.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
});
