// InitProducerId: gives an idempotent producer its producer id (epoch 0). Ids come from a database
// sequence, so they are unique across agents, and any agent answers (clients send this to any broker).
// Like Kafka without a transactional id, a request naming its current id and epoch (KIP-360, v3+) also
// gets a fresh id. Transactions are not supported: a transactional id is refused with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients report as fatal instead of retrying forever.
import { ApiKey, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { AclOperation, ResourceType, allowed, allowedOnAny, allowedOnCluster } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const refused = (errorCode: ErrorCodeValue) => ({ throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 });
    // Kafka: WRITE on the transactional id; without one, IDEMPOTENT_WRITE on the cluster or WRITE on
    // some topic.
    if (req.transactionalId != null && !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) {
      return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if (req.transactionalId == null && !allowedOnCluster(ctx, AclOperation.IDEMPOTENT_WRITE) && !allowedOnAny(ctx, AclOperation.WRITE, ResourceType.TOPIC)) {
      return refused(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    if (req.transactionalId != null) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
    }
    const producerId = await ctx.broker.metadata.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
});
