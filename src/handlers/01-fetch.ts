// Fetch: whole committed batches from each requested partition, as Buffer views (never copied, never
// decoded). Kafka's size rules: the response's first batch is always returned whole even above
// max_bytes / partition_max_bytes; after that a batch that does not fit is left for the next fetch.
// The response budget is the smaller of the request's max_bytes and the broker's fetch.max.bytes, as
// in Kafka; partition_max_bytes has no broker cap (Kafka has none either): the response budget bounds it.
// Long poll: when fewer than min_bytes are ready, wait (up to max_wait_ms) for a flush commit that
// adds data, then read again. Fetch sessions are declined (session id 0): clients send full fetches.
// Versions 0-3 (message format v0/v1, down-conversion) are advertised for old librdkafka feature
// checks and answered with UNSUPPORTED_VERSION.
import {
  ApiKey,
  ErrorCode,
  KafkaError,
  type ErrorCodeValue,
  type FetchRequest,
  type FetchRequestFetchPartition,
} from '../../protocol/index.js';
import { ATTRIBUTES_OFFSET, BatchAttributes, CompressionType } from '../../protocol/record-batch.js';
import type { TopicRecord } from '../../metadata/types.js';
import { AclOperation, allowedTopic } from '../security/authorize.js';
import { defineHandler, type RequestContext } from './types.js';

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';
const MAX_ZSTD_FREE_VERSION = 9;

interface PartitionResult {
  partitionIndex: number;
  errorCode: ErrorCodeValue;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: Array<{ producerId: number; firstOffset: number }> | null;
  preferredReadReplica: number;
  records: Buffer[];
  currentLeader?: { leaderId: number; leaderEpoch: number };
}

interface TopicRequest {
  name: string | undefined;
  topicId: string;
  topic: TopicRecord | undefined;
  partitions: FetchRequestFetchPartition[];
  /** The principal may not READ the topic: its partitions answer TOPIC_AUTHORIZATION_FAILED. */
  denied: boolean;
}

function empty(partitionIndex: number, errorCode: ErrorCodeValue): PartitionResult {
  return { partitionIndex, errorCode, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1, abortedTransactions: null, preferredReadReplica: -1, records: [] };
}

function bytesOf(bufs: Buffer[]): number {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
}

/** Fetchers below v10 cannot read zstd batches: Kafka answers UNSUPPORTED_COMPRESSION_TYPE. */
function hasZstd(batches: Buffer[]): boolean {
  for (const b of batches) {
    if ((b.readInt16BE(ATTRIBUTES_OFFSET) & BatchAttributes.compressionMask) === CompressionType.zstd) return true;
  }
  return false;
}

async function readPartition(
  t: TopicRequest,
  p: FetchRequestFetchPartition,
  budget: { bytes: number; first: boolean },
  ctx: RequestContext,
  readCommitted: boolean,
): Promise<PartitionResult> {
  if (t.denied) return empty(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  if (t.topic === undefined) return empty(p.partition, ctx.apiVersion >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (p.partition < 0 || p.partition >= t.topic.partitionCount) return empty(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const name = t.topic.name;
  try {
    const st = await ctx.broker.partitions.state(name, p.partition, { stable: readCommitted });
    const base: PartitionResult = { ...empty(p.partition, ErrorCode.NONE), highWatermark: st.highWatermark, lastStableOffset: st.lastStableOffset, logStartOffset: st.logStartOffset, abortedTransactions: readCommitted ? [] : null };
    const current = p.currentLeaderEpoch ?? -1;
    if (current >= 0 && current < st.leaderEpoch) return { ...base, errorCode: ErrorCode.FENCED_LEADER_EPOCH };
    if (current > st.leaderEpoch) return { ...base, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH };
    if (p.fetchOffset < st.logStartOffset || p.fetchOffset > st.highWatermark) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    // read_committed: up to the last stable offset, with the aborted transactions in that range.
    const upTo = readCommitted ? st.lastStableOffset : st.highWatermark;
    if (p.fetchOffset >= upTo || (!budget.first && budget.bytes <= 0)) return base;
    const limit = budget.first ? Math.min(p.partitionMaxBytes, Math.max(budget.bytes, 1)) : Math.min(p.partitionMaxBytes, budget.bytes);
    let records = await ctx.broker.partitions.read(name, p.partition, p.fetchOffset, limit, upTo);
    // The reader returns the first batch whole whatever the limit; that is only allowed for the
    // response's first batch.
    if (!budget.first && records.length > 0 && records[0].length > limit) records = [];
    if (records.length > 0 && ctx.apiVersion <= MAX_ZSTD_FREE_VERSION && hasZstd(records)) {
      return { ...base, errorCode: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE };
    }
    const n = bytesOf(records);
    if (n > 0) budget.first = false;
    budget.bytes -= n;
    if (readCommitted && records.length > 0 && ctx.broker.transactions !== undefined) {
      const last = records[records.length - 1]!;
      const end = Number(last.readBigInt64BE(0)) + last.readInt32BE(23) + 1;
      base.abortedTransactions = await ctx.broker.transactions.partitions.abortedBetween(name, p.partition, st.leaderEpoch, p.fetchOffset, end, st.logStartOffset);
    }
    return { ...base, records };
  } catch (err) {
    if (err instanceof KafkaError) return empty(p.partition, err.code);
    ctx.broker.log.error({ err, topic: name, partition: p.partition }, 'fetch failed');
    return empty(p.partition, ErrorCode.UNKNOWN_SERVER_ERROR);
  }
}

async function readAll(topics: TopicRequest[], maxBytes: number, ctx: RequestContext, readCommitted: boolean): Promise<{ results: PartitionResult[][]; bytes: number }> {
  const budget = { bytes: maxBytes, first: true };
  const results: PartitionResult[][] = [];
  let bytes = 0;
  // Sequential: the byte budget and the first-batch rule depend on request order.
  for (const t of topics) {
    const out: PartitionResult[] = [];
    for (const p of t.partitions) {
      const r = await readPartition(t, p, budget, ctx, readCommitted);
      bytes += bytesOf(r.records);
      out.push(r);
    }
    results.push(out);
  }
  return { results, bytes };
}

async function resolveTopics(req: FetchRequest, ctx: RequestContext): Promise<TopicRequest[]> {
  return Promise.all(
    req.topics.map(async (t) => {
      const byId = ctx.apiVersion >= 13;
      const topicId = t.topicId ?? NO_TOPIC_ID;
      // By name, authorization comes before the lookup (existence is not revealed); by id, an unknown id
      // is UNKNOWN_TOPIC_ID and a known one is authorized by its name, as Kafka.
      if (!byId && !allowedTopic(ctx, AclOperation.READ, t.topic ?? '')) return { name: t.topic, topicId, topic: undefined, partitions: t.partitions, denied: true };
      const topic = byId ? await ctx.broker.metadata.getTopicById(topicId) : await ctx.broker.metadata.getTopic(t.topic ?? '');
      const denied = topic !== undefined && !allowedTopic(ctx, AclOperation.READ, topic.name);
      return { name: t.topic, topicId, topic: denied ? undefined : topic, partitions: t.partitions, denied };
    }),
  );
}

async function fetch(req: FetchRequest, ctx: RequestContext) {
  const sessionId = req.sessionId ?? 0;
  const sessionEpoch = req.sessionEpoch ?? -1;
  if (ctx.apiVersion >= 7 && sessionId !== 0) return errorResponse(req, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, ctx);
  if (ctx.apiVersion >= 7 && sessionEpoch > 0) return errorResponse(req, ErrorCode.INVALID_FETCH_SESSION_EPOCH, ctx);

  const topics = await resolveTopics(req, ctx);
  const requested = ctx.apiVersion >= 3 ? (req.maxBytes ?? 0x7fffffff) : 0x7fffffff;
  const cap = ctx.broker.config.fetchMaxBytes;
  if (requested > cap) {
    ctx.conn.reportLimit?.('fetch.max.bytes', { requestedMaxBytes: requested, fetchMaxBytes: cap }, 'Fetch max_bytes above the broker cap: responses are capped', 'info');
  }
  const maxBytes = Math.min(requested, cap);
  const deadline = ctx.broker.clock.now() + Math.max(0, req.maxWaitMs);
  const readCommitted = ctx.apiVersion >= 4 && req.isolationLevel === 1;
  let { results, bytes } = await readAll(topics, maxBytes, ctx, readCommitted);
  for (;;) {
    // Refused topics do not end the long poll (Kafka leaves them out of the read and waits on the others).
    const hasError = results.some((ps, i) => !topics[i]!.denied && ps.some((p) => p.errorCode !== ErrorCode.NONE));
    const remaining = deadline - ctx.broker.clock.now();
    if (bytes >= Math.max(1, req.minBytes) || hasError || remaining <= 0) break;
    const waitOn = [];
    for (let i = 0; i < topics.length; i++) {
      const t = topics[i];
      if (t.topic === undefined) continue;
      for (let j = 0; j < t.partitions.length; j++) {
        // Wake on any commit past the high watermark this read saw.
        if (results[i][j].errorCode === ErrorCode.NONE) waitOn.push({ topic: t.topic.name, partitionId: t.partitions[j].partition, offset: results[i][j].highWatermark });
      }
    }
    if (waitOn.length === 0) break;
    await ctx.broker.partitions.waitForData(waitOn, remaining);
    ({ results, bytes } = await readAll(topics, maxBytes, ctx, readCommitted));
  }
  // Kafka's BytesOutPerSec: the record bytes of the response, per topic.
  const metrics = ctx.broker.metrics;
  if (metrics !== undefined && bytes > 0) {
    topics.forEach((t, i) => {
      let n = 0;
      for (const r of results[i]) n += bytesOf(r.records);
      if (n > 0 && t.topic !== undefined) metrics.fetched(t.topic.name, n);
    });
  }

  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: topics.map((t, i) => ({
      topic: t.topic?.name ?? t.name ?? '',
      topicId: t.topic?.topicId ?? t.topicId,
      partitions: results[i],
    })),
    nodeEndpoints: [],
  };
}

function errorResponse(req: FetchRequest, errorCode: ErrorCodeValue, ctx: RequestContext) {
  // Session-level errors go in the top-level error code with no partitions (v7+).
  const sessionLevel = errorCode === ErrorCode.FETCH_SESSION_ID_NOT_FOUND || errorCode === ErrorCode.INVALID_FETCH_SESSION_EPOCH;
  return {
    throttleTimeMs: 0,
    errorCode: ctx.apiVersion >= 7 ? errorCode : ErrorCode.NONE,
    sessionId: 0,
    responses: sessionLevel && ctx.apiVersion >= 7
      ? []
      : req.topics.map((t) => ({ topic: t.topic ?? '', topicId: t.topicId ?? NO_TOPIC_ID, partitions: t.partitions.map((p) => empty(p.partition, errorCode)) })),
    nodeEndpoints: [],
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 0,
  maxVersion: 17,
  minImplementedVersion: 4,
  handle: fetch,
  errorResponse,
});
