// ListTransactions (KIP-664; DurationFilter v1, KIP-994): the transactional ids this agent coordinates,
// filtered by state, producer id and how long the transaction has been open.
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { TXN_STATES } from '../transactions/store.js';
import { AclOperation, ResourceType, allowed } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.ListTransactions,
  minVersion: 0,
  maxVersion: 1,
  async handle(req, ctx) {
    const txns = ctx.broker.transactions;
    const known = new Set<string>(TXN_STATES);
    const unknownStateFilters = req.stateFilters.filter((s) => !known.has(s));
    if (txns === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates: [] };
    const now = ctx.broker.clock.now();
    const duration = req.durationFilter ?? -1;
    const list = (await txns.coordinator.list()).filter(
      (t) =>
        allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, t.transactionalId) &&
        (req.stateFilters.length === 0 || req.stateFilters.includes(t.state)) &&
        (req.producerIdFilters.length === 0 || req.producerIdFilters.includes(t.producerId)) &&
        (duration < 0 || (t.startedAt >= 0 && now - t.startedAt > duration)),
    );
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      unknownStateFilters,
      transactionStates: list.map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state })),
    };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] };
  },
});
