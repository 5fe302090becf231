// Self-fencing with real agents: agent A reaches PostgreSQL through a proxy that loses the answer to
// A's lease renewal and then stays unreachable (the renewal applied: the database extended A's
// leases, A does not know). A must stop serving its partitions, and say so in its log, before its
// leases can expire in the database; agent B takes them only after they expired; when A's database
// comes back it counts itself live again and receives its share back by handoff.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { buildRecordBatchSync } from '../../protocol/record-batch.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { PgCuttingProxy } from '../helpers/pg-cutting-proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const TOPIC = 'fenced';
const ENV = { STREAMHOUSE_LEASE_TTL_MS: '3000', STREAMHOUSE_AGENT_HEARTBEAT_MS: '500' };

async function produce(port: number, partition: number, value: string): Promise<number> {
  const c = await RawClient.connect(port);
  try {
    const records = buildRecordBatchSync({ records: [{ value, timestamp: Date.now() }] });
    const res = await c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] });
    return res.responses[0].partitionResponses[0].errorCode;
  } finally {
    c.close();
  }
}

async function leaders(port: number): Promise<{ leaders: number[]; ports: Map<number, number> }> {
  const c = await RawClient.connect(port);
  try {
    const md = await c.request(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const out: number[] = [];
    for (const p of md.topics[0].partitions) out[p.partitionIndex] = p.leaderId;
    return { leaders: out, ports: new Map(md.brokers.map((b: { nodeId: number; port: number }) => [b.nodeId, b.port])) };
  } finally {
    c.close();
  }
}

/** Log lines of an agent as objects. */
function lines(agent: AgentHandle): Array<Record<string, unknown> & { time: number; msg: string }> {
  return agent.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

describe('self-fencing: an agent that cannot renew stops serving before anyone else may take its partitions', () => {
  let backend: Backend;
  let proxy: PgCuttingProxy;
  let a: AgentHandle;
  let b: AgentHandle;

  before(async () => {
    backend = await startBackend('postgres+s3');
    const url = new URL(backend.env.DATABASE_URL!);
    proxy = await PgCuttingProxy.start(Number(url.port));
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    a = await startAgent({ env: { ...backend.env, ...ENV, DATABASE_URL: viaProxy.toString() } });
    b = await startAgent({ env: { ...backend.env, ...ENV } });
    const c = await RawClient.connect(b.port);
    const created = await c.request(ApiKey.CreateTopics, 5, { topics: [{ name: TOPIC, numPartitions: 6, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    c.close();
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  });

  after(async () => {
    await a?.stop('SIGKILL');
    await b?.stop('SIGKILL');
    await proxy?.stop();
    await backend?.stop();
  });

  test('fenced before the leases expire, taken over after, handed back when the database returns', async () => {
    const view = await waitFor('both agents to agree on leaders', async () => {
      const [va, vb] = await Promise.all([leaders(a.port), leaders(b.port)]);
      return JSON.stringify(va.leaders) === JSON.stringify(vb.leaders) && new Set(va.leaders).size === 2 ? va : undefined;
    }, 10_000);
    const nodeA = [...view.ports].find(([, port]) => port === a.port)![0];
    const ofA = view.leaders.flatMap((n, p) => (n === nodeA ? [p] : []));
    assert.ok(ofA.length > 0);
    assert.equal(await produce(a.port, ofA[0]!, 'before'), ErrorCode.NONE);

    proxy.cutAfter('sh_renew_agent_leases');
    const fenced = await waitFor('A to fence itself', () => lines(a).find((l) => l.msg.includes('self-fenced')), 10_000);
    assert.equal(await produce(a.port, ofA[0]!, 'fenced'), ErrorCode.NOT_LEADER_OR_FOLLOWER);

    // B takes A's partitions, but only once A's leases (extended by the lost renewal) expired.
    await waitFor('B to lead A\'s partitions', async () => (await produce(b.port, ofA[0]!, 'after')) === ErrorCode.NONE, 15_000);
    const taken = lines(b).filter((l) => l.msg.startsWith('lease acquired') && l.topic === TOPIC && ofA.includes(l.partition as number));
    assert.ok(taken.length > 0);
    const firstTake = Math.min(...taken.filter((l) => l.time > fenced.time - 60_000).map((l) => l.time));
    console.log(`# self-fencing: A fenced ${fenced.count} partitions; B took the first of them ${firstTake - fenced.time} ms later`);
    assert.ok(fenced.time < firstTake, 'A stopped serving before B could take over');

    // The database comes back: A is live again and receives its share by handoff.
    proxy.up();
    await waitFor('A to lead its share again', async () => {
      const [va, vb] = await Promise.all([leaders(a.port), leaders(b.port)]);
      return JSON.stringify(va.leaders) === JSON.stringify(vb.leaders) && va.leaders.filter((n) => n === nodeA).length === ofA.length;
    }, 20_000);
    await waitFor('A to take produce again', async () => (await produce(a.port, ofA[0]!, 'back')) === ErrorCode.NONE, 10_000);
  });
});
