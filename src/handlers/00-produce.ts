// Produce: validate each partition's record batch (Kafka's LogValidator checks: CRC, header, every
// record, compressed ones decompressed within --max-decompressed-bytes), fix maxTimestamp from the
// records or stamp LogAppendTime, append through the partition log, and answer only after the flush
// commit (acks=1/-1). acks=0 requests are written the same way and never answered. Everything that
// can refuse a batch happens here, before it joins a flush cycle: one producer's bytes never fail
// a cycle shared with others.
// Pipelined requests of one connection append in arrival order (src/network/turns.ts): lookups, validation
// and leases run concurrently, the appends themselves in turn.
// The request frame lives in recycled memory (src/network/frame-arena.ts) released when handle() settles:
// nothing here may keep a view into it beyond that.
// Versions 0-2 (message format v0/v1) are advertised for old librdkafka feature checks only.
import {
  ApiKey,
  ErrorCode,
  KafkaError,
  type ErrorCodeValue,
  type ProduceRequest,
  type ProduceRequestPartitionProduceData,
  type ProduceResponsePartitionProduceResponse,
} from '../../protocol/index.js';
import {
  ATTRIBUTES_OFFSET, BatchAttributes, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET, setLogAppendTime, setMaxTimestamp, validateProduceBatch, type BatchValidationFailure, type RecordError,
} from '../../protocol/record-batch.js';
import { performance } from 'node:perf_hooks';
import type { TopicRecord } from '../../metadata/types.js';
import { resolveTopicConfig, type ResolvedTopicConfig } from '../topics.js';
import { withDecompressionSlot } from '../decompression-slots.js';
import { AclOperation, ResourceType, allowed, allowedTopic } from '../security/authorize.js';
import { defineHandler, NO_RESPONSE, type RequestContext } from './types.js';

type PartitionResponse = ProduceResponsePartitionProduceResponse;


function partitionError(index: number, errorCode: ErrorCodeValue, errorMessage: string | null = null, recordErrors: RecordError[] = []): PartitionResponse {
  // record_errors exist from v8; the codec leaves them out of older versions.
  const errors = recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: errors, errorMessage };
}

function isCompressed(records: Buffer | null): boolean {
  return records !== null && records.length > ATTRIBUTES_OFFSET + 1 && (records.readInt16BE(ATTRIBUTES_OFFSET) & BatchAttributes.compressionMask) !== 0;
}

export interface CheckBatchOptions {
  apiVersion: number;
  config: ResolvedTopicConfig;
  nowMs: number;
  maxDecompressedBytes: number;
  /** false: header and CRC checks only (the benchmark's baseline). */
  checkRecords?: boolean;
}

/**
 * One partition's records, validated and made ready to append: maxTimestamp set from the records
 * (CreateTime; Kafka does the same, so a producer's header cannot mislead retention or ListOffsets)
 * or stamped with the broker time (LogAppendTime), the CRC recomputed when that changed a byte.
 */
export async function checkProducedBatch(
  records: Buffer | null,
  opts: CheckBatchOptions,
): Promise<{ ok: true; batch: Buffer; logAppendTimeMs: number } | BatchValidationFailure> {
  const { config, nowMs } = opts;
  const logAppendTime = config.messageTimestampType === 'LogAppendTime';
  const validate = () => validateProduceBatch(records, {
    apiVersion: opts.apiVersion,
    maxMessageBytes: config.maxMessageBytes,
    maxDecompressedBytes: opts.maxDecompressedBytes,
    checkRecords: opts.checkRecords,
    requireKeys: config.compacted,
    timestampWindow: logAppendTime ? undefined : { nowMs, beforeMaxMs: config.messageTimestampBeforeMaxMs, afterMaxMs: config.messageTimestampAfterMaxMs },
  });
  const checked = isCompressed(records) && opts.checkRecords !== false ? await withDecompressionSlot(validate) : await validate();
  if (!checked.ok) return checked;
  if (logAppendTime) {
    setLogAppendTime(checked.batch, nowMs);
    return { ok: true, batch: checked.batch, logAppendTimeMs: nowMs };
  }
  if (checked.recordsMaxTimestamp !== undefined) setMaxTimestamp(checked.batch, checked.recordsMaxTimestamp);
  return { ok: true, batch: checked.batch, logAppendTimeMs: -1 };
}

function errorOf(err: unknown, ctx: RequestContext): { code: ErrorCodeValue; message: string | null } {
  if (err instanceof KafkaError) return { code: err.code, message: err.message };
  ctx.broker.log.error({ err }, 'produce failed');
  return { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: null };
}

/** A partition's batch, checked and led, ready to append; or the error it is answered with. */
type Prepared = { index: number; batch: Buffer; logAppendTimeMs: number } | PartitionResponse;

async function preparePartition(topic: TopicRecord, p: ProduceRequestPartitionProduceData, ctx: RequestContext): Promise<Prepared> {
  if (p.index < 0 || p.index >= topic.partitionCount) return partitionError(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const checked = await checkProducedBatch(p.records, {
    apiVersion: ctx.apiVersion,
    config: resolveTopicConfig(topic),
    nowMs: ctx.broker.clock.now(),
    maxDecompressedBytes: ctx.broker.config.maxDecompressedBytes,
  });
  if (!checked.ok) return partitionError(p.index, checked.errorCode, checked.message, checked.recordErrors);
  try {
    await ctx.broker.partitions.lead(topic.name, p.index, checked.batch);
    // A transactional batch: its producer must have added the partition to its open transaction.
    if ((checked.batch.readInt16BE(ATTRIBUTES_OFFSET) & BatchAttributes.transactional) !== 0) {
      const txns = ctx.broker.transactions;
      if (txns === undefined) return partitionError(p.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const code = await txns.partitions.checkTransactionalBatch(topic.name, p.index, Number(checked.batch.readBigInt64BE(PRODUCER_ID_OFFSET)), checked.batch.readInt16BE(PRODUCER_EPOCH_OFFSET));
      if (code !== ErrorCode.NONE) return partitionError(p.index, code);
    }
  } catch (err) {
    const { code, message } = errorOf(err, ctx);
    return partitionError(p.index, code, message);
  }
  return { index: p.index, batch: checked.batch, logAppendTimeMs: checked.logAppendTimeMs };
}

async function appendPartition(topic: string, p: Prepared, ctx: RequestContext): Promise<PartitionResponse> {
  if (!('batch' in p)) return p;
  const metrics = ctx.broker.metrics;
  // Read before the append: the batch is request memory, recycled once the request is answered.
  const bytes = p.batch.length;
  const records = metrics === undefined ? 0 : p.batch.readInt32BE(RECORDS_COUNT_OFFSET);
  const appendedAt = metrics === undefined ? 0 : performance.now();
  try {
    const r = await ctx.broker.partitions.append(topic, p.index, p.batch);
    // Kafka's BytesInPerSec: the partition's records field as sent, once appended (here: committed).
    metrics?.produced(topic, bytes, records, appendedAt);
    return { index: p.index, errorCode: ErrorCode.NONE, baseOffset: r.baseOffset, logAppendTimeMs: p.logAppendTimeMs, logStartOffset: r.logStartOffset, recordErrors: [], errorMessage: null };
  } catch (err) {
    const { code, message } = errorOf(err, ctx);
    return partitionError(p.index, code, message);
  }
}

async function produce(req: ProduceRequest, ctx: RequestContext) {
  // Taken before the first await: appends happen in the order requests arrived on the connection.
  const turn = ctx.conn.appendTurns.take();
  let committed: Array<Promise<{ name: string; partitionResponses: PartitionResponse[] }>>;
  try {
    const prepared = await Promise.all(
      req.topicData.map(async (t) => {
        // Authorization first, as Kafka: a topic the producer may not write is not looked up (its
        // existence is not revealed).
        if (!allowedTopic(ctx, AclOperation.WRITE, t.name)) {
          return { name: t.name, partitions: t.partitionData.map((p): Prepared => partitionError(p.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) };
        }
        const topic = await ctx.broker.metadata.getTopic(t.name);
        const partitions: Prepared[] = topic === undefined
          ? t.partitionData.map((p) => partitionError(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
          : await Promise.all(t.partitionData.map((p) => preparePartition(topic, p, ctx)));
        return { name: t.name, partitions };
      }),
    );
    await turn.ready;
    // Every append is called in this synchronous loop (each takes its offsets before returning).
    committed = prepared.map((t) => {
      const responses = t.partitions.map((p) => appendPartition(t.name, p, ctx));
      return Promise.all(responses).then((partitionResponses) => ({ name: t.name, partitionResponses }));
    });
  } finally {
    turn.release();
  }
  return { responses: await Promise.all(committed), throttleTimeMs: 0 };
}

function errorResponse(req: ProduceRequest, errorCode: ErrorCodeValue) {
  return {
    responses: req.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => partitionError(p.index, errorCode)) })),
    throttleTimeMs: 0,
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 0,
  maxVersion: 11,
  minImplementedVersion: 3,
  handle(req, ctx) {
    if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) return errorResponse(req, ErrorCode.INVALID_REQUIRED_ACKS);
    if (req.transactionalId != null && !allowed(ctx, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) {
      return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if (req.transactionalId != null && ctx.broker.transactions === undefined) return errorResponse(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (req.acks !== 0) return produce(req, ctx);
    // Written all the same; nobody is told the outcome (Kafka's acks=0 contract). The request frame
    // is recycled once this returns, but these appends outlive it: they work on their own copy.
    for (const t of req.topicData) for (const p of t.partitionData) if (p.records !== null) p.records = Buffer.from(p.records);
    produce(req, ctx).catch((err: unknown) => ctx.broker.log.warn({ err }, 'acks=0 produce failed'));
    return NO_RESPONSE;
  },
  errorResponse,
});
