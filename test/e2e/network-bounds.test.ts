// Issue 12, "no client can hurt the agent": raw sockets against a real agent (embedded configuration)
// that hold half-sent large frames, send a byte at a time, open too many connections from one address
// or ask for 2 GiB fetches, while a well-behaved kafkajs producer and consumer keep working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode, encodeRequest } from '../../protocol/index.js';
import { buildRecordBatchSync, splitBatches } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { RawClient } from '../helpers/raw-client.js';

const { Kafka, logLevel } = kafkajs;

const MiB = 1024 * 1024;
const POOL = 64 * MiB;
const MAX_FRAME = 16 * MiB;
const RECEIVE_TIMEOUT_MS = 3000;
const FETCH_CAP = 256 * 1024;
const ABUSERS = 32;

function vmRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

async function open(port: number, localAddress?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

/** Log lines of the agent (JSON) about one limit. */
function limitLines(agent: AgentHandle, limit: string): Array<Record<string, unknown>> {
  return agent
    .output()
    .split('\n')
    .filter((l) => l.includes(`"limit":"${limit}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The agent's log lines about `limit` matching `filter`, once at least one has arrived (its stdout is
 * a pipe, written asynchronously) and a little more time has passed for any duplicate to show.
 */
async function loggedLimit(agent: AgentHandle, limit: string, filter: (l: Record<string, unknown>) => boolean): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 10_000;
  while (!limitLines(agent, limit).some(filter) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300));
  return limitLines(agent, limit).filter(filter);
}

describe('network bounds under abuse (embedded)', () => {
  let agent: AgentHandle;

  before(async () => {
    agent = await startAgent({
      args: [
        '--max-frame-bytes', String(MAX_FRAME),
        '--queued-max-request-bytes', String(POOL),
        '--request-receive-timeout-ms', String(RECEIVE_TIMEOUT_MS),
        '--fetch-max-bytes', String(FETCH_CAP),
        '--max-connections-per-ip-overrides', '127.0.0.9:2',
      ],
    });
  });

  after(async () => {
    await agent?.stop();
  });

  test(`${ABUSERS} connections each sending 90 % of a 16 MiB frame stay within queued.max.request.bytes; kafkajs still produces and consumes`, async () => {
    const kafka = new Kafka({ clientId: 'well-behaved', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'bounds', messages: [{ value: 'warm-up' }] });
    const rss0 = vmRssMiB(agent.pid);

    // One shared buffer: the size prefix of a 16 MiB frame and 90 % of its bytes, never the rest.
    const partial = Buffer.alloc(4 + Math.floor(MAX_FRAME * 0.9), 7);
    partial.writeInt32BE(MAX_FRAME, 0);
    const abusers: Socket[] = [];
    let peak = rss0;
    const sampler = setInterval(() => (peak = Math.max(peak, vmRssMiB(agent.pid))), 50);
    try {
      for (let i = 0; i < ABUSERS; i++) {
        const s = await open(agent.port, '127.0.0.2');
        s.write(partial);
        abusers.push(s);
      }
      // Until the agent has muted connections for memory (it says so once per client).
      const deadline = Date.now() + 20_000;
      while (limitLines(agent, 'queued.max.request.bytes').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1000));

      // The well-behaved client, meanwhile: its requests are small and keep their share of the pool.
      await producer.send({ topic: 'bounds', messages: [{ key: 'k', value: 'during the abuse' }] });
      const consumer = kafka.consumer({ groupId: 'bounds-group' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'bounds', fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      const until = Date.now() + 30_000;
      while (!seen.includes('during the abuse') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await consumer.disconnect();
      assert.deepEqual(seen, ['warm-up', 'during the abuse']);
    } finally {
      clearInterval(sampler);
      for (const s of abusers) s.destroy();
      await producer.disconnect();
    }

    // Unbounded, these connections would add 32 × 14.4 MiB = 461 MiB (measured: +465 MiB); bounded,
    // +34-77 MiB was measured. The bound: the 48 MiB that large frames may hold, plus generous room
    // for the client traffic, the garbage collector and PGlite.
    const growth = peak - rss0;
    console.log(`agent RSS ${rss0.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB during the abuse (+${growth.toFixed(0)} MiB)`);
    const muted = await loggedLimit(agent, 'queued.max.request.bytes', () => true);
    assert.equal(muted.length, 1, 'logged once for the client, not once per connection or frame');
    assert.equal(muted[0].remote, '127.0.0.2');
    assert.ok((muted[0].reservedBytes as number) <= POOL);
    assert.ok(growth < 200, `RSS grew by ${growth.toFixed(0)} MiB`);
  });

  test('a client sending a byte at a time is closed at the receive deadline', async () => {
    const s = await open(agent.port, '127.0.0.3');
    const frame = Buffer.alloc(4 + 200, 1);
    frame.writeInt32BE(200, 0);
    const started = Date.now();
    let sent = 0;
    const dribble = setInterval(() => {
      if (!s.destroyed) s.write(frame.subarray(sent, ++sent));
    }, 200);
    try {
      await once(s, 'close');
    } finally {
      clearInterval(dribble);
    }
    const elapsed = Date.now() - started;
    // A byte every 200 ms would take 41 s for this frame; the deadline does not move with them.
    assert.ok(elapsed >= RECEIVE_TIMEOUT_MS - 100 && elapsed < 3 * RECEIVE_TIMEOUT_MS, `closed after ${elapsed} ms`);
    const logged = await loggedLimit(agent, 'request.receive.timeout.ms', (l) => l.remote === '127.0.0.3');
    assert.equal(logged.length, 1);
  });

  test('max.connections.per.ip.overrides: the third connection from 127.0.0.9 is closed at accept; 127.0.0.10 connects', async () => {
    /** Connects from `address` and sends ApiVersions: true when answered, false when closed first. */
    const answered = async (address: string, keep: Socket[]): Promise<boolean> => {
      const s = await open(agent.port, address);
      keep.push(s);
      s.cork();
      for (const b of encodeRequest(ApiKey.ApiVersions, 3, 1, 'raw', { clientSoftwareName: 'raw', clientSoftwareVersion: '1' })) s.write(b);
      s.uncork();
      return new Promise<boolean>((resolve) => {
        s.once('data', () => resolve(true));
        s.once('close', () => resolve(false));
      });
    };
    const kept: Socket[] = [];
    try {
      assert.equal(await answered('127.0.0.9', kept), true);
      assert.equal(await answered('127.0.0.9', kept), true);
      assert.equal(await answered('127.0.0.9', kept), false);
      assert.equal(await answered('127.0.0.9', kept), false);
      assert.equal(await answered('127.0.0.10', kept), true);
      assert.equal((await loggedLimit(agent, 'max.connections.per.ip', (l) => l.remote === '127.0.0.9')).length, 1, 'logged once per address');
    } finally {
      for (const s of kept) s.destroy();
    }
  });

  test('a Fetch asking for 2^31-1 bytes gets at most fetch.max.bytes, still at least one batch', async () => {
    const c = await RawClient.connect(agent.port);
    try {
      const created = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'fetch-cap', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
      assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
      const produce = async (partition: number, valueBytes: number, count: number) => {
        for (let i = 0; i < count; i++) {
          const records = buildRecordBatchSync({ records: [{ key: null, value: Buffer.alloc(valueBytes, i), timestamp: Date.now() }] });
          const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: 'fetch-cap', partitionData: [{ index: partition, records }] }] });
          assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
        }
      };
      await produce(0, 100 * 1024, 8); // 800 KiB of 100 KiB batches
      await produce(1, 400 * 1024, 2); // batches larger than the cap
      const fetch = async (partition: number) => {
        const res = await c.request(ApiKey.Fetch, 12, {
          replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 0x7fffffff, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: [{ topic: 'fetch-cap', partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 0x7fffffff }] }],
          forgottenTopicsData: [], rackId: '',
        });
        const p = res.responses[0].partitions[0];
        assert.equal(p.errorCode, ErrorCode.NONE);
        return splitBatches(p.records!);
      };
      const small = await fetch(0);
      assert.equal(small.length, 2, 'two 100 KiB batches fit in 256 KiB, a third does not');
      assert.ok(small.reduce((n, b) => n + b.length, 0) <= FETCH_CAP);
      const large = await fetch(1);
      assert.equal(large.length, 1, 'one batch above the cap is still returned whole');
      assert.ok(large[0].length > FETCH_CAP);
      assert.equal((await loggedLimit(agent, 'fetch.max.bytes', (l) => l.clientId === 'streamhouse-test')).length, 1);
    } finally {
      c.close();
    }
  });
});
