// Issue 12, end to end: the agent on PostgreSQL loses the answer to a flush commit that applied, and
// the database stays unreachable for longer than the agent waits to learn the outcome
// (commitResolveTimeoutMs, 30 s), so the Produce is answered REQUEST_TIMED_OUT. Once the database is
// back, the idempotent producer's retry of that batch must get the offsets the batch has, and a
// consumer must read every record once (the agent runs with released frames poisoned).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { PgCuttingProxy } from '../helpers/pg-cutting-proxy.js';
import { findPostgresBinaries, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { RawClient } from '../helpers/raw-client.js';

const RETRIABLE = new Set<number>([ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_LEADER_OR_FOLLOWER]);

describe('a flush commit whose answer was lost, while PostgreSQL stayed away', { skip: findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false }, () => {
  let pg: PostgresServer;
  let proxy: PgCuttingProxy;
  let agent: AgentHandle;
  let c: RawClient;

  before(async () => {
    pg = await startPostgres();
    const url = new URL(await pg.createDatabase());
    proxy = await PgCuttingProxy.start(pg.port);
    url.port = String(proxy.port);
    // A lease outlives the outage, so the partition stays led here and the writer's own check settles it.
    agent = await startAgent({ env: { DATABASE_URL: url.toString(), STREAMHOUSE_LEASE_TTL_MS: '180000' } });
    c = await RawClient.connect(agent.port);
  });

  after(async () => {
    c?.close();
    await agent?.stop();
    await proxy?.stop();
    await pg?.stop();
  });

  test('the idempotent retry gets the original offsets and every record is stored once', async () => {
    const topic = 'unknown-commit';
    await c.request(ApiKey.Metadata, 9, { topics: [{ name: topic }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    assert.equal(init.errorCode, ErrorCode.NONE);
    const produce = async (baseSequence: number, values: string[]) => {
      const records = buildRecordBatchSync({ producerId: init.producerId, producerEpoch: 0, baseSequence, records: values.map((value) => ({ value, timestamp: Date.now() })) });
      const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
      const p = res.responses[0].partitionResponses[0];
      return [p.errorCode, p.baseOffset];
    };
    /** Resends like a producer: while the error is retriable, for up to `ms`. */
    const resend = async (baseSequence: number, values: string[], ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const r = await produce(baseSequence, values);
        if (!RETRIABLE.has(r[0]!) || Date.now() > deadline) return r;
        await new Promise((res) => setTimeout(res, 200));
      }
    };

    assert.deepEqual(await resend(0, ['a', 'b'], 20_000), [ErrorCode.NONE, 0]);
    proxy.cutAfter('sh_commit_flush');
    assert.deepEqual(await produce(2, ['c', 'd']), [ErrorCode.REQUEST_TIMED_OUT, -1], 'the outcome stayed unknown');
    assert.equal(proxy.cuts, 1);
    proxy.up();
    assert.deepEqual(await resend(2, ['c', 'd'], 20_000), [ErrorCode.NONE, 2], 'the retry gets the offsets the batch has');
    assert.deepEqual(await resend(4, ['e'], 20_000), [ErrorCode.NONE, 4]);
    const r = await kcat(['-b', agent.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-c', '5', '-e', '-J']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseJsonLines(r.stdout).map((m) => [m.offset, m.payload]), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd'], [4, 'e']]);
  });
});
