// Log retention on both configurations: records older than retention.ms, and the oldest beyond
// retention.bytes, leave the log (log start offset moves, fetching below it is OFFSET_OUT_OF_RANGE,
// kcat from the beginning sees only what is kept); the newest segment stays; compacted topics keep all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const HOUR = 3_600_000;

for (const backendName of BACKENDS) {
  describe(`log retention (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let c: RawClient;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env, args: ['--log-retention-check-interval-ms', '200'] });
      c = await RawClient.connect(agent.port);
    });

    after(async () => {
      c?.close();
      await agent?.stop();
      await backend?.stop();
    });

    const createTopic = async (name: string, configs: Record<string, string>) => {
      const res = await c.request(ApiKey.CreateTopics, 5, {
        topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
        timeoutMs: 10_000, validateOnly: false,
      });
      assert.equal(res.topics[0].errorCode, ErrorCode.NONE);
    };
    /** Each produce is acked after its own flush, so each batch is its own segment. */
    const produce = async (topic: string, values: string[], timestamp: number) => {
      const records = buildRecordBatchSync({ records: values.map((value, i) => ({ key: `k-${value}`, value, timestamp: timestamp + i })) });
      const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
      assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    };
    const earliest = async (topic: string) => {
      const res = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2 }] }] });
      return res.topics[0].partitions[0].offset;
    };
    const fetchError = async (topic: string, fetchOffset: number) => {
      const res = await c.request(ApiKey.Fetch, 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1_000_000 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      return res.responses[0].partitions[0].errorCode;
    };
    const consumeAll = async (topic: string) => {
      const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-J']);
      assert.equal(r.code, 0, r.stderr);
      return parseJsonLines(r.stdout).map((m) => [m.offset, m.payload]);
    };

    test('retention.ms: records older than the limit leave the log; recent ones stay', async () => {
      const topic = 'ret-time';
      await createTopic(topic, { 'retention.ms': String(HOUR) });
      await produce(topic, ['old-0', 'old-1', 'old-2'], Date.now() - 3 * HOUR);
      await produce(topic, ['older-3'], Date.now() - 2 * HOUR);
      await produce(topic, ['new-4', 'new-5'], Date.now());
      await waitFor('log start offset 4', async () => (await earliest(topic)) === 4, 10_000);
      assert.equal(await fetchError(topic, 0), ErrorCode.OFFSET_OUT_OF_RANGE);
      assert.equal(await fetchError(topic, 4), ErrorCode.NONE);
      assert.deepEqual(await consumeAll(topic), [[4, 'new-4'], [5, 'new-5']]);
    });

    test('retention.bytes: the oldest segments beyond the limit go; the newest always stays', async () => {
      const topic = 'ret-bytes';
      await createTopic(topic, { 'retention.bytes': '1' });
      for (let i = 0; i < 3; i++) await produce(topic, [`b-${i}`], Date.now());
      await waitFor('log start offset 2', async () => (await earliest(topic)) === 2, 10_000);
      assert.deepEqual(await consumeAll(topic), [[2, 'b-2']]);
    });

    test('a compacted topic keeps old records (retention by time applies to cleanup.policy=delete)', async () => {
      const topic = 'ret-compact';
      await createTopic(topic, { 'retention.ms': String(HOUR), 'cleanup.policy': 'compact' });
      await produce(topic, ['c-0'], Date.now() - 3 * HOUR);
      await produce(topic, ['c-1'], Date.now());
      await new Promise((r) => setTimeout(r, 1000)); // five retention passes
      assert.equal(await earliest(topic), 0);
      assert.deepEqual(await consumeAll(topic), [[0, 'c-0'], [1, 'c-1']]);
    });
  });
}
