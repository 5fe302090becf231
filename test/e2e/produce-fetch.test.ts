// The produce/fetch path with exact requests (our codec over a raw socket), on both configurations:
// error codes a user sees, offsets APIs, LogAppendTime, long polling, malformed frames.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync, readBatchHeader, splitBatches, verifyBatchCrc, TimestampType, CRC_OFFSET } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { RawClient } from '../helpers/raw-client.js';

const PRODUCE_V = 9; // flexible
const FETCH_V = 12;

function batch(values: string[], timestamp = Date.now()): Buffer {
  return buildRecordBatchSync({ records: values.map((v, i) => ({ key: `k${i}`, value: v, timestamp: timestamp + i })) });
}

for (const backendName of BACKENDS) {
  describe(`produce and fetch over the wire (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let c: RawClient;

    const produce = async (topic: string, partition: number, records: Buffer, version = PRODUCE_V) => {
      const res = await c.request(ApiKey.Produce, version, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
      return res.responses[0].partitionResponses[0];
    };
    const fetch = async (topic: string, partition: number, fetchOffset: number, opts: { maxWaitMs?: number; minBytes?: number; maxBytes?: number; client?: RawClient } = {}) => {
      const res = await (opts.client ?? c).request(ApiKey.Fetch, FETCH_V, {
        replicaId: -1, maxWaitMs: opts.maxWaitMs ?? 0, minBytes: opts.minBytes ?? 0, maxBytes: opts.maxBytes ?? 10_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: opts.maxBytes ?? 1_000_000 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      return res.responses[0].partitions[0];
    };
    const createTopic = async (name: string, numPartitions: number, configs: Array<{ name: string; value: string }> = []) => {
      const res = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs }], timeoutMs: 10_000, validateOnly: false });
      return res.topics[0];
    };

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: { ...backend.env, STREAMHOUSE_AUTO_CREATE_TOPICS: 'false' } });
      c = await RawClient.connect(agent.port);
    });

    after(async () => {
      c?.close();
      await agent?.stop();
      await backend?.stop();
    });

    test('produce assigns consecutive offsets; fetch returns the batches whole and unchanged', async () => {
      assert.equal((await createTopic('pf-basic', 2)).errorCode, ErrorCode.NONE);
      const a = batch(['a0', 'a1', 'a2']);
      const b = batch(['b0', 'b1']);
      const ra = await produce('pf-basic', 1, Buffer.from(a));
      const rb = await produce('pf-basic', 1, Buffer.from(b));
      assert.deepEqual([ra.errorCode, ra.baseOffset, rb.errorCode, rb.baseOffset], [0, 0, 0, 3]);
      const f = await fetch('pf-basic', 1, 0);
      assert.equal(f.errorCode, ErrorCode.NONE);
      assert.equal(f.highWatermark, 5);
      assert.equal(f.logStartOffset, 0);
      const got = splitBatches(f.records!);
      assert.equal(got.length, 2);
      // Only baseOffset (bytes 0-7) and partitionLeaderEpoch (12-15) differ from what was produced.
      for (const [i, produced] of [a, b].entries()) {
        assert.ok(verifyBatchCrc(got[i]));
        assert.deepEqual(got[i].subarray(16), produced.subarray(16));
        assert.equal(readBatchHeader(got[i]).baseOffset, i === 0 ? 0 : 3);
      }
      // Fetch from the middle of a batch returns that whole batch; fetch at the end returns nothing.
      assert.equal(readBatchHeader(splitBatches((await fetch('pf-basic', 1, 4)).records!)[0]).baseOffset, 3);
      assert.equal((await fetch('pf-basic', 1, 5)).records?.length ?? 0, 0);
      assert.equal((await fetch('pf-basic', 1, 6)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    });

    test('errors: unknown topic (auto-create off), partition out of range, too large, bad CRC, bad names and counts', async () => {
      assert.equal((await produce('pf-missing', 0, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const md = await c.request(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'pf-missing' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
      assert.equal(md.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

      assert.equal((await createTopic('pf-errors', 1, [{ name: 'max.message.bytes', value: '2000' }])).errorCode, ErrorCode.NONE);
      assert.equal((await produce('pf-errors', 7, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal((await produce('pf-errors', 0, batch(['x'.repeat(3000)]))).errorCode, ErrorCode.MESSAGE_TOO_LARGE);
      const corrupt = batch(['hello', 'world']);
      corrupt[corrupt.length - 3] ^= 0xff;
      assert.equal((await produce('pf-errors', 0, corrupt)).errorCode, ErrorCode.CORRUPT_MESSAGE);
      const badCrc = batch(['fine']);
      badCrc.writeUInt32BE((badCrc.readUInt32BE(CRC_OFFSET) + 1) >>> 0, CRC_OFFSET);
      assert.equal((await produce('pf-errors', 0, badCrc)).errorCode, ErrorCode.CORRUPT_MESSAGE);
      // Nothing of the rejected batches became visible.
      assert.equal((await fetch('pf-errors', 0, 0)).highWatermark, 0);

      assert.equal((await createTopic('bad name!', 1)).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
      assert.equal((await createTopic('pf-zero', 0)).errorCode, ErrorCode.INVALID_PARTITIONS);
      assert.equal((await createTopic('pf-errors', 1)).errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    });

    test('ListOffsets earliest/latest/by time, DeleteRecords moves the log start offset', async () => {
      // Records from 2023: retention.ms off, so the retention task (a pass every 5 min) never races this test.
      await createTopic('pf-offsets', 1, [{ name: 'retention.ms', value: '-1' }]);
      const t0 = 1_700_000_000_000;
      await produce('pf-offsets', 0, batch(['a', 'b', 'c'], t0));
      await produce('pf-offsets', 0, batch(['d', 'e'], t0 + 10_000));
      const list = async (timestamp: number) => {
        const r = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'pf-offsets', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
        return r.topics[0].partitions[0];
      };
      assert.equal((await list(-2)).offset, 0);
      assert.equal((await list(-1)).offset, 5);
      assert.deepEqual([(await list(t0 + 1)).offset, (await list(t0 + 1)).timestamp], [1, t0 + 1]);
      assert.equal((await list(t0 + 10_001)).offset, 4);
      assert.equal((await list(t0 + 99_999)).offset, -1);
      const max = await list(-3);
      assert.deepEqual([max.offset, max.timestamp], [4, t0 + 10_001]);

      const del = await c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: 'pf-offsets', partitions: [{ partitionIndex: 0, offset: 3 }] }], timeoutMs: 10_000 });
      assert.deepEqual([del.topics[0].partitions[0].errorCode, del.topics[0].partitions[0].lowWatermark], [0, 3]);
      assert.equal((await list(-2)).offset, 3);
      assert.equal((await fetch('pf-offsets', 0, 1)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
      assert.equal((await fetch('pf-offsets', 0, 3)).logStartOffset, 3);
    });

    test('a deleted and re-created topic starts again at offset 0', async () => {
      await createTopic('pf-recreate', 1);
      assert.equal((await produce('pf-recreate', 0, batch(['old', 'old']))).baseOffset, 0);
      const del = await c.request(ApiKey.DeleteTopics, 4, { topicNames: ['pf-recreate'], timeoutMs: 10_000 });
      assert.equal(del.responses[0].errorCode, ErrorCode.NONE);
      assert.equal((await produce('pf-recreate', 0, batch(['x']))).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      await createTopic('pf-recreate', 1);
      const r = await produce('pf-recreate', 0, batch(['new']));
      assert.deepEqual([r.errorCode, r.baseOffset], [ErrorCode.NONE, 0]);
      const f = await fetch('pf-recreate', 0, 0);
      assert.equal(f.highWatermark, 1);
      assert.equal(splitBatches(f.records!).length, 1);
    });

    test('LogAppendTime topics stamp the broker time and keep the CRC valid', async () => {
      await createTopic('pf-append-time', 1, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]);
      const before = Date.now();
      const r = await produce('pf-append-time', 0, batch(['x', 'y'], 1000));
      assert.equal(r.errorCode, ErrorCode.NONE);
      assert.ok(r.logAppendTimeMs! >= before && r.logAppendTimeMs! <= Date.now());
      const [b] = splitBatches((await fetch('pf-append-time', 0, 0)).records!);
      const h = readBatchHeader(b);
      assert.equal(h.timestampType, TimestampType.logAppendTime);
      assert.equal(h.maxTimestamp, r.logAppendTimeMs);
      assert.ok(verifyBatchCrc(b));
    });

    test('long poll: a waiting fetch returns as soon as a produce commits, and after max_wait_ms when nothing comes', async () => {
      await createTopic('pf-poll', 1);
      const waiter = await RawClient.connect(agent.port);
      try {
        let t = Date.now();
        const idle = await fetch('pf-poll', 0, 0, { maxWaitMs: 300, minBytes: 1, client: waiter });
        const idleMs = Date.now() - t;
        assert.equal(idle.records?.length ?? 0, 0);
        assert.ok(idleMs >= 280 && idleMs < 1500, `empty long poll took ${idleMs} ms`);

        t = Date.now();
        const pending = fetch('pf-poll', 0, 0, { maxWaitMs: 10_000, minBytes: 1, client: waiter });
        await new Promise((r) => setTimeout(r, 200));
        const produced = await produce('pf-poll', 0, batch(['wake up']));
        const ackedAt = Date.now();
        const woken = await pending;
        const wokenAt = Date.now();
        assert.equal(produced.errorCode, ErrorCode.NONE);
        assert.equal(splitBatches(woken.records!).length, 1);
        assert.ok(wokenAt - t < 5000, 'woken long before max_wait_ms');
        assert.ok(wokenAt - ackedAt < 200, `fetch answered ${wokenAt - ackedAt} ms after the produce ack`);
      } finally {
        waiter.close();
      }
    });

    test('ApiVersions: too-new version gets UNSUPPORTED_VERSION with our range; malformed frames close only their connection', async () => {
      const other = await RawClient.connect(agent.port);
      const frame = Buffer.alloc(4 + 10);
      frame.writeInt32BE(10, 0);
      frame.writeInt16BE(ApiKey.ApiVersions, 4);
      frame.writeInt16BE(99, 6);
      frame.writeInt32BE(42, 8);
      frame.writeInt16BE(-1, 12); // null client id
      other.writeRaw(frame);
      const res = await other.nextFrame();
      assert.ok(res);
      assert.equal(res.readInt32BE(0), 42); // header v0: correlation id only
      assert.equal(res.readInt16BE(4), ErrorCode.UNSUPPORTED_VERSION);
      assert.equal(res.readInt32BE(6), 1); // one entry
      assert.deepEqual([res.readInt16BE(10), res.readInt16BE(12), res.readInt16BE(14)], [ApiKey.ApiVersions, 0, 4]);

      other.writeRaw(Buffer.from([0, 0, 0, 6, 0, 99, 0, 0, 0, 1])); // unknown api key 99
      assert.equal(await other.nextFrame(), undefined);
      assert.ok(other.closed);
      // The first connection is unaffected.
      const av = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1.0' });
      assert.equal(av.errorCode, ErrorCode.NONE);
      assert.ok(av.apiKeys.some((k) => k.apiKey === ApiKey.Produce && k.minVersion === 0 && k.maxVersion === 11));
    });
  });
}
