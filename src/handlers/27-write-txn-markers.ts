// WriteTxnMarkers: a transaction coordinator (another agent) asks this agent, the partitions' leader,
// to append commit/abort markers. Each partition is answered once its marker is committed.
import { ApiKey, ErrorCode, type ErrorCodeValue, type WriteTxnMarkersRequest } from '../../protocol/index.js';
import { AclOperation, allowedOnCluster, authorizerEnabled } from '../security/authorize.js';
import { defineHandler } from './types.js';

function errorResponse(req: WriteTxnMarkersRequest, errorCode: ErrorCodeValue) {
  return {
    markers: req.markers.map((m) => ({
      producerId: m.producerId,
      topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, errorCode })) })),
    })),
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.WriteTxnMarkers,
  minVersion: 0,
  maxVersion: 1,
  async handle(req, ctx) {
    const txns = ctx.broker.transactions;
    if (txns === undefined) return errorResponse(req, ErrorCode.UNSUPPORTED_VERSION);
    // Kafka allows this API to principals with CLUSTER_ACTION (brokers). Agents talk to each other as
    // anonymous clients, so a marker from anyone else is written only when it matches the decision
    // stored in PostgreSQL.
    const trusted = authorizerEnabled(ctx) && allowedOnCluster(ctx, AclOperation.CLUSTER_ACTION);
    const refusal = authorizerEnabled(ctx) ? ErrorCode.CLUSTER_AUTHORIZATION_FAILED : ErrorCode.INVALID_TXN_STATE;
    const write = async (topic: string, p: number, m: (typeof req.markers)[number]): Promise<ErrorCodeValue> => {
      if (p < 0) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      if (!trusted && !(await txns.partitions.decided(topic, p, m.producerId, m.producerEpoch, m.transactionResult))) return refusal;
      return txns.partitions.writeMarker(topic, p, m.producerId, m.producerEpoch, m.transactionResult, m.coordinatorEpoch);
    };
    const markers = await Promise.all(
      req.markers.map(async (m) => ({
        producerId: m.producerId,
        topics: await Promise.all(
          m.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(async (p) => ({
                partitionIndex: p,
                errorCode: await write(t.name, p, m),
              })),
            ),
          })),
        ),
      })),
    );
    return { markers };
  },
  errorResponse,
});
