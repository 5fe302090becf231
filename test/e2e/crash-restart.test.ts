// An agent killed with kill -9 and restarted at once on the same data directory, as a supervisor does
// (before it has even reaped the dead process, which is still a zombie holding the data-dir lock's PID),
// starts and serves every record acknowledged before the crash: 20 times in a row on the embedded
// defaults (PGlite + a local directory), once on PostgreSQL + S3.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { readBatchRecords, splitBatches } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend, type BackendName } from '../helpers/backends.js';
import { RawClient } from '../helpers/raw-client.js';
import { findPostgresBinaries } from '../helpers/postgres.js';

const { Kafka, logLevel } = kafkajs;

async function produceOne(agent: AgentHandle, topic: string, value: string): Promise<void> {
  const kafka = new Kafka({ clientId: 'crash-restart', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value }] });
  } finally {
    await producer.disconnect();
  }
}

/** Every value in partition 0 of `topic`, read with one raw Fetch from offset 0. */
async function values(agent: AgentHandle, topic: string): Promise<string[]> {
  const c = await RawClient.connect(agent.port);
  try {
    const res = await c.request(ApiKey.Fetch, 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 10_000_000, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 10_000_000 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const p = res.responses[0].partitions[0];
    assert.equal(p.errorCode, ErrorCode.NONE, `fetch error ${p.errorCode}`);
    const out: string[] = [];
    for (const batch of splitBatches(p.records ?? Buffer.alloc(0))) {
      for (const r of await readBatchRecords(batch)) out.push(r.value?.toString() ?? '');
    }
    return out;
  } finally {
    c.close();
  }
}

function crashRestartSuite(name: BackendName, rounds: number): void {
  const skip = name === 'postgres+s3' && findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;
  describe(`kill -9 and immediate restart (${name})`, { skip }, () => {
    let backend: Backend | undefined;
    let agent: AgentHandle | undefined;
    after(async () => {
      await agent?.stop('SIGKILL');
      await backend?.stop();
    });

    // An embedded restart takes 5-7 s on a busy 2-core machine (PGlite opens its files again).
    test(`${rounds} crash-restarts in a row: each restart starts and serves every acknowledged record`, { timeout: 900_000 }, async () => {
      backend = await startBackend(name);
      agent = await startAgent({ env: backend.env });
      const topic = 'crash-restart';
      const expected: string[] = [];
      for (let round = 1; round <= rounds; round++) {
        const value = `round-${round}`;
        await produceOne(agent, topic, value);
        expected.push(value);
        const killed = agent.pid;
        agent = await agent.restart('SIGKILL');
        assert.notEqual(agent.pid, killed);
        assert.equal(agent.startedOverZombie, true, `round ${round}: the killed agent was already reaped when the new one took the lock`);
        assert.deepEqual(await values(agent, topic), expected, `round ${round}: records after the restart`);
      }
    });
  });
}

crashRestartSuite('embedded', 20);
crashRestartSuite('postgres+s3', 1);
