// WriteTxnMarkers: a transaction coordinator (another agent) asks this agent, the partitions' leader,
// to append commit/abort markers. Each partition is answered once its marker is committed.
import { ApiKey, ErrorCode, type ErrorCodeValue, type WriteTxnMarkersRequest } from '../../protocol/index.js';
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
    const markers = await Promise.all(
      req.markers.map(async (m) => ({
        producerId: m.producerId,
        topics: await Promise.all(
          m.topics.map(async (t) => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(async (p) => ({
                partitionIndex: p,
                errorCode: p < 0 ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : await txns.partitions.writeMarker(t.name, p, m.producerId, m.producerEpoch, m.transactionResult, m.coordinatorEpoch),
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
