// Issue 12, "no client can hurt the agent": a producer sending hostile batches (lying headers,
// impossible timestamps and counts, bad offset deltas, compression bombs) gets Kafka's error for its
// own partition, with record_errors naming the bad records at Produce v8+, while a well-behaved
// producer on the same agent keeps producing. A stored batch that decompresses beyond the bound fails
// ListOffsets by timestamp for its partition only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import {
  BATCH_LENGTH_OFFSET, buildRecordBatch, buildRecordBatchSync, CompressionType, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET,
  readBatchHeader, readBatchRecords, recomputeBatchCrc, RECORD_BATCH_OVERHEAD, RECORDS_COUNT_OFFSET, splitBatches, verifyBatchCrc,
  type BuildRecordBatchOptions,
} from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const BOUND = 4 * MiB;

async function produce(c: RawClient, topic: string, partition: number, records: Buffer, version = 9) {
  const res = await c.request(ApiKey.Produce, version, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
  return res.responses[0].partitionResponses[0];
}

async function fetchAll(c: RawClient, topic: string, partition: number) {
  const res = await c.request(ApiKey.Fetch, 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 50_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 50_000_000 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  return res.responses[0].partitions[0];
}

async function createTopic(c: RawClient, name: string, numPartitions: number, configs: Array<{ name: string; value: string }> = []) {
  const res = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs }], timeoutMs: 10_000, validateOnly: false });
  assert.equal(res.topics[0].errorCode, ErrorCode.NONE);
}

function records(n: number, ts = Date.now(), key: (i: number) => string | null = (i) => `k${i}`): BuildRecordBatchOptions['records'] {
  return Array.from({ length: n }, (_, i) => ({ key: key(i), value: `value-${i}`, timestamp: ts + i }));
}

/** A batch, then `edit` applied to its header and the CRC made valid again (a hostile producer's CRC is right). */
async function hostile(compression: number, opts: Partial<BuildRecordBatchOptions>, edit: (b: Buffer) => void = () => undefined): Promise<Buffer> {
  const b = await buildRecordBatch({ records: records(5), ...opts, compression: compression as BuildRecordBatchOptions['compression'] });
  edit(b);
  recomputeBatchCrc(b);
  return b;
}

/** A compressed batch whose records section is replaced by `body` (header fields kept, CRC fixed). */
function withBody(compression: number, body: Buffer, count: number): Buffer {
  const b = Buffer.alloc(RECORD_BATCH_OVERHEAD + body.length);
  buildRecordBatchSync({ records: records(1) }).copy(b, 0, 0, RECORD_BATCH_OVERHEAD);
  body.copy(b, RECORD_BATCH_OVERHEAD);
  b.writeInt32BE(b.length - 12, BATCH_LENGTH_OFFSET);
  b.writeInt16BE(compression, 21);
  b.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
  b.writeInt32BE(count, RECORDS_COUNT_OFFSET);
  recomputeBatchCrc(b);
  return b;
}

/** zstd frame without content size: `blocks` RLE blocks of 128 KiB (a bomb: 4 bytes per 128 KiB). */
function zstdBomb(blocks: number): Buffer {
  const body = Buffer.alloc(blocks * 4);
  for (let i = 0; i < blocks; i++) {
    body.writeUIntLE((i === blocks - 1 ? 1 : 0) | (1 << 1) | ((128 * 1024) << 3), i * 4, 3);
    body[i * 4 + 3] = 0;
  }
  return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3]), body]);
}

const CODECS = [CompressionType.none, CompressionType.lz4, CompressionType.zstd] as const;

describe('produce validation against a real agent', () => {
  let agent: AgentHandle;
  let c: RawClient;

  before(async () => {
    agent = await startAgent({ args: ['--max-decompressed-bytes', String(BOUND)], env: { STREAMHOUSE_AUTO_CREATE_TOPICS: 'false' } });
    c = await RawClient.connect(agent.port);
  });

  after(async () => {
    c?.close();
    await agent?.stop();
  });

  test('hostile batches are refused with the right error; a well-behaved producer on the same agent keeps working', async () => {
    await createTopic(c, 'hostile', 2, [{ name: 'message.timestamp.before.max.ms', value: '3600000' }]);
    const good = await RawClient.connect(agent.port);
    try {
      const cases: Array<[string, Buffer, number]> = [];
      for (const codec of CODECS) {
        const name = ['none', '', '', 'lz4', 'zstd'][codec];
        // Records whose timestamps are 2^63-1: storage cannot hold them.
        cases.push([`${name}: record timestamps 2^63-1`, await hostile(codec, { records: records(2, 0) }, (b) => b.writeBigInt64BE(2n ** 63n - 1n, 27)), ErrorCode.INVALID_TIMESTAMP]);
        // baseTimestamp 0: records at 1970, outside message.timestamp.before.max.ms.
        cases.push([`${name}: baseTimestamp 0`, await hostile(codec, { records: records(3, 0) }), ErrorCode.INVALID_TIMESTAMP]);
        // count 2^31-1 (lastOffsetDelta to match) over 5 records.
        cases.push([`${name}: count 2^31-1`, await hostile(codec, {}, (b) => {
          b.writeInt32BE(2 ** 31 - 2, LAST_OFFSET_DELTA_OFFSET);
          b.writeInt32BE(2 ** 31 - 1, RECORDS_COUNT_OFFSET);
        }), ErrorCode.INVALID_RECORD]);
        // Offset deltas 0, 1, 7, 3, 4.
        cases.push([`${name}: bad offset deltas`, await hostile(codec, { records: records(5).map((r, i) => ({ ...r, offsetDelta: i === 2 ? 7 : i })) }, (b) => {
          b.writeInt32BE(4, LAST_OFFSET_DELTA_OFFSET);
        }), ErrorCode.INVALID_RECORD]);
      }
      cases.push(['gzip bomb (8 MiB of zeros in 8 KiB)', withBody(CompressionType.gzip, gzipSync(Buffer.alloc(8 * MiB)), 1), ErrorCode.MESSAGE_TOO_LARGE]);
      cases.push(['zstd bomb (no content size, 8 MiB in 262 bytes)', withBody(CompressionType.zstd, zstdBomb(64), 1), ErrorCode.MESSAGE_TOO_LARGE]);

      // Each hostile batch is sent together with a good one from another connection, so both reach
      // the agent in the same moment (and, were the hostile one accepted, the same flush cycle).
      const goodOffsets: number[] = [];
      for (const [name, batch, code] of cases) {
        const [r, g] = await Promise.all([
          produce(c, 'hostile', 0, batch),
          produce(good, 'hostile', 1, buildRecordBatchSync({ records: records(3) })),
        ]);
        assert.equal(r.errorCode, code, `${name}: ${r.errorMessage}`);
        assert.equal(r.baseOffset, -1, name);
        assert.equal(g.errorCode, ErrorCode.NONE, `good producer next to ${name}`);
        goodOffsets.push(g.baseOffset);
      }
      assert.deepEqual(goodOffsets, goodOffsets.map((_, i) => i * 3));
      assert.equal((await fetchAll(c, 'hostile', 0)).highWatermark, 0, 'nothing of the hostile batches was stored');
      const f = await fetchAll(c, 'hostile', 1);
      assert.equal(f.highWatermark, goodOffsets.length * 3);
      assert.equal(splitBatches(f.records!).length, goodOffsets.length);

      // The agent is still whole: the hostile connection itself can produce a good batch.
      assert.equal((await produce(c, 'hostile', 0, buildRecordBatchSync({ records: records(2) }))).baseOffset, 0);
    } finally {
      good.close();
    }
  });

  test('a header maxTimestamp that lies (2^63-1, or 0) is replaced by the records\' maximum, CRC recomputed', async () => {
    await createTopic(c, 'lying-header', 1);
    const now = Date.now();
    for (const codec of CODECS) {
      for (const lie of [2n ** 63n - 1n, 0n]) {
        const batch = await hostile(codec, { records: records(4, now) }, (b) => b.writeBigInt64BE(lie, MAX_TIMESTAMP_OFFSET));
        assert.equal((await produce(c, 'lying-header', 0, batch)).errorCode, ErrorCode.NONE, `codec ${codec}, maxTimestamp ${lie}`);
      }
    }
    const stored = splitBatches((await fetchAll(c, 'lying-header', 0)).records!);
    assert.equal(stored.length, CODECS.length * 2);
    for (const b of stored) {
      assert.ok(verifyBatchCrc(b));
      assert.equal(readBatchHeader(b).maxTimestamp, now + 3);
      assert.deepEqual((await readBatchRecords(b)).map((r) => r.timestamp), [now, now + 1, now + 2, now + 3]);
    }
    const max = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'lying-header', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3 }] }] });
    assert.equal(max.topics[0].partitions[0].timestamp, now + 3);
  });

  test('record_errors name the bad records at Produce v8+; v7 gets the error code alone', async () => {
    await createTopic(c, 'compacted', 1, [{ name: 'cleanup.policy', value: 'compact' }]);
    for (const codec of CODECS) {
      // Records 1 and 3 have no key.
      const batch = await buildRecordBatch({ records: records(5, Date.now(), (i) => (i % 2 === 1 ? null : `k${i}`)), compression: codec });
      for (const version of [8, 9, 11]) {
        const r = await produce(c, 'compacted', 0, Buffer.from(batch), version);
        assert.equal(r.errorCode, ErrorCode.INVALID_RECORD);
        assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [1, 3], `v${version} codec ${codec}`);
        assert.match(r.recordErrors![0].batchIndexErrorMessage!, /key/);
      }
      const v7 = await produce(c, 'compacted', 0, Buffer.from(batch), 7);
      assert.equal(v7.errorCode, ErrorCode.INVALID_RECORD);
      assert.deepEqual(v7.recordErrors ?? [], []);
    }
    // A timestamp error among key errors makes the whole answer INVALID_TIMESTAMP, as in Kafka.
    await createTopic(c, 'windowed', 1, [{ name: 'message.timestamp.after.max.ms', value: '60000' }]);
    const now = Date.now();
    const mixed = buildRecordBatchSync({ records: [0, 1, 2, 3].map((i) => ({ key: 'k', value: 'v', timestamp: i === 2 ? now + 3_600_000 : now })) });
    const r = await produce(c, 'windowed', 0, mixed, 9);
    assert.equal(r.errorCode, ErrorCode.INVALID_TIMESTAMP);
    assert.deepEqual(r.recordErrors!.map((e) => e.batchIndex), [2]);
    assert.equal((await fetchAll(c, 'compacted', 0)).highWatermark, 0);
  });
});

describe('ListOffsets by timestamp over a stored batch beyond the decompression bound', () => {
  test('fails that partition only (logged), not the agent; Fetch still serves the batch', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-bound-'));
    let agent: AgentHandle | undefined;
    let c: RawClient | undefined;
    try {
      agent = await startAgent({ dataDir, cleanup: false });
      c = await RawClient.connect(agent.port);
      await createTopic(c, 'big', 2, [{ name: 'retention.ms', value: '-1' }]);
      const t0 = 1_700_000_000_000;
      // 3 MiB of records in a few KiB of zstd: legitimate under the default bound (64 MiB).
      const big = await buildRecordBatch({ compression: CompressionType.zstd, records: Array.from({ length: 3072 }, (_, i) => ({ key: null, value: 'x'.repeat(1024), timestamp: t0 + i })) });
      assert.ok(big.length < 64 * 1024, `${big.length} bytes`);
      assert.equal((await produce(c, 'big', 0, big)).errorCode, ErrorCode.NONE);
      assert.equal((await produce(c, 'big', 1, buildRecordBatchSync({ records: records(3, t0) }))).errorCode, ErrorCode.NONE);
      c.close();
      await agent.stop();

      agent = await startAgent({ dataDir, cleanup: false, args: ['--max-decompressed-bytes', String(MiB)] });
      c = await RawClient.connect(agent.port);
      const res = await c.request(ApiKey.ListOffsets, 7, {
        replicaId: -1, isolationLevel: 0,
        topics: [{ name: 'big', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: t0 + 10 }, { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: t0 + 1 }] }],
      });
      const [p0, p1] = res.topics[0].partitions;
      assert.equal(p0.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
      assert.deepEqual([p1.errorCode, p1.offset, p1.timestamp], [ErrorCode.NONE, 1, t0 + 1]);
      // The log line travels through the agent's stdout pipe: it may arrive after the answer.
      const logged = /big-0: reading the batch at offset 0 for a timestamp: zstd: records decompress to more than 1048576 bytes/;
      const running = agent;
      await waitFor('the refusal logged', () => logged.test(running.output()), 10_000).catch(() => assert.match(running.output(), logged));
      // Fetch hands out batches as stored, without decompressing them.
      const f = await fetchAll(c, 'big', 0);
      assert.equal(f.errorCode, ErrorCode.NONE);
      assert.deepEqual(splitBatches(f.records!)[0].subarray(16), big.subarray(16));
    } finally {
      c?.close();
      await agent?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
