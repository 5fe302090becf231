// EndTxn: commit or abort the producer's transaction. Answered once the decision is stored and, when
// they can be written within a few seconds, its markers are in every partition's log.
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { fencedCode } from '../transactions/index.js';
import { AclOperation, ResourceType, allowed } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    if (!allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    const txns = ctx.broker.transactions;
    if (txns === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    const code = await txns.coordinator.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
    return { throttleTimeMs: 0, errorCode: fencedCode(code, ctx.apiVersion, 2) };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
});
