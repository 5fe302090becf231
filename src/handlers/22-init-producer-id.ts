// InitProducerId: without a transactional id, an idempotent producer's id (epoch 0) from a database
// sequence, unique across agents; any agent answers (clients send this to any broker). Like Kafka, a
// request naming its current id and epoch (KIP-360, v3+) also gets a fresh id.
// With a transactional id, the transaction coordinator of its shard answers (src/transactions/): the
// id's producer id with the epoch bumped, an open transaction of the previous instance aborted.
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { fencedCode } from '../transactions/index.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    // An empty transactional id means none, as in Kafka.
    if (req.transactionalId != null && req.transactionalId !== '') {
      const txns = ctx.broker.transactions;
      if (txns === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
      const r = await txns.coordinator.initProducerId(req.transactionalId, req.transactionTimeoutMs, req.producerId ?? -1, req.producerEpoch ?? -1);
      return { throttleTimeMs: 0, errorCode: fencedCode(r.errorCode, ctx.apiVersion, 4), producerId: r.producerId ?? -1, producerEpoch: r.producerEpoch ?? -1 };
    }
    const producerId = await ctx.broker.metadata.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
});
