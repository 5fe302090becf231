// Agent identity on one PostgreSQL + S3: agents started with the defaults get ids of their own
// (created once per data directory) and distinct node ids; a second live agent under an id in use is
// refused at start with a message naming the other agent's address and the fix; a restart after
// kill -9 on the same data directory takes its own row over at once, keeping id and node id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../protocol/index.js';
import { AGENT_ID_FILE_NAME } from '../../src/agent-identity.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { startBackend, type Backend } from '../helpers/backends.js';
import { findPostgresBinaries } from '../helpers/postgres.js';
import { RawClient } from '../helpers/raw-client.js';

const ENV = { STREAMHOUSE_AGENT_HEARTBEAT_MS: '500', STREAMHOUSE_LEASE_TTL_MS: '3000' };

/** The node id `agent` reports for itself, and the ports of every broker it lists. */
async function brokersSeenBy(agent: AgentHandle): Promise<{ self: number; ports: number[] }> {
  const c = await RawClient.connect(agent.port);
  try {
    const md = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const self = md.brokers.find((b) => b.port === agent.port);
    assert.ok(self, `agent on ${agent.port} lists itself`);
    return { self: self.nodeId, ports: md.brokers.map((b) => b.port).sort() };
  } finally {
    c.close();
  }
}

async function refusal(start: Promise<AgentHandle>): Promise<string> {
  try {
    const unexpected = await start;
    await unexpected.stop('SIGKILL');
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('the agent started');
}

const skip = findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;

describe('agent identity (PostgreSQL + S3)', { skip }, () => {
  let backend: Backend;
  const running: AgentHandle[] = [];
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'streamhouse-identity-e2e-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    backend = await startBackend('postgres+s3');
  });

  after(async () => {
    await Promise.all(running.map((a) => a.stop('SIGKILL')));
    await backend?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('default ids are per data directory; a copied id, a repeated --agent-id or another --coordinator-shards is refused while its agent lives; kill -9 and restart keeps id and node id', async () => {
    const env = { ...backend.env, ...ENV };
    // Two agents with the defaults (the old default was the same `localhost:9092`-style id for both).
    const dirA = dir();
    const dirB = dir();
    const a = await startAgent({ env, dataDir: dirA, cleanup: false });
    running.push(a);
    const b = await startAgent({ env, dataDir: dirB, cleanup: false });
    running.push(b);
    const idA = readFileSync(join(dirA, AGENT_ID_FILE_NAME), 'utf8').trim();
    const idB = readFileSync(join(dirB, AGENT_ID_FILE_NAME), 'utf8').trim();
    assert.match(idA, /^agent-[0-9a-f-]{36}$/);
    assert.notEqual(idA, idB);
    const nodeA = (await brokersSeenBy(a)).self;
    const nodeB = (await brokersSeenBy(b)).self;
    assert.notEqual(nodeA, nodeB);
    assert.deepEqual((await brokersSeenBy(b)).ports, [a.port, b.port].sort());

    // A data directory copied from A's (its agent-id file with it): refused while A lives.
    const copy = dir();
    copyFileSync(join(dirA, AGENT_ID_FILE_NAME), join(copy, AGENT_ID_FILE_NAME));
    const copied = await refusal(startAgent({ env, dataDir: copy, cleanup: false }));
    assert.match(copied, new RegExp(`agent id ${idA} is in use by a live agent at 127\\.0\\.0\\.1:${a.port} \\(node id ${nodeA}`));
    assert.match(copied, /agent-id/);
    assert.equal((await brokersSeenBy(a)).self, nodeA, 'the refused agent changed nothing');

    // The same explicit --agent-id twice.
    const one = await startAgent({ env, args: ['--agent-id', 'same-id'] });
    running.push(one);
    const twice = await refusal(startAgent({ env, args: ['--agent-id', 'same-id'] }));
    assert.match(twice, new RegExp(`agent id same-id is in use by a live agent at 127\\.0\\.0\\.1:${one.port} \\(node id \\d+, last heartbeat \\d+ ms ago\\)`));
    assert.match(twice, /give each agent its own --agent-id/);
    console.log(`# refusal: ${twice.split('\n').find((l) => l.startsWith('streamhouse: could not start'))}`);
    const nodeOne = (await brokersSeenBy(one)).self;
    assert.ok((await brokersSeenBy(a)).ports.includes(one.port), 'the first agent with that id is still registered (the refused one did not deregister it)');

    // Another number of coordinator shards than the agents already sharing the database: refused.
    const shards = await refusal(startAgent({ env, args: ['--coordinator-shards', '7'] }));
    assert.match(shards, /--coordinator-shards is 7 here but 50 for the agents sharing this database/);
    assert.match(shards, /start every agent with --coordinator-shards 50/);

    // kill -9 and an immediate restart on the same data directory: the dead process's heartbeat is
    // recent, but the stale data-dir lock proves it is gone, so the row is taken over.
    const killedPid = a.pid;
    const a2 = await a.restart('SIGKILL');
    running[running.indexOf(a)] = a2;
    assert.notEqual(a2.pid, killedPid);
    assert.equal(readFileSync(join(dirA, AGENT_ID_FILE_NAME), 'utf8').trim(), idA, 'same id after the restart');
    assert.equal((await brokersSeenBy(a2)).self, nodeA, 'same node id after the restart');

    // Once an agent has stopped cleanly (deregistered), its id is free at once.
    await one.stop();
    running.splice(running.indexOf(one), 1);
    const again = await startAgent({ env, args: ['--agent-id', 'same-id'] });
    running.push(again);
    // Its row was removed on the way out; the smallest free node id is the one it gave back.
    assert.equal((await brokersSeenBy(again)).self, nodeOne);
  });
});
