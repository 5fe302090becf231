// The default agent id: created once per data directory, read back unchanged on every start, refused
// when the file holds something that is not an id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_ID_FILE_NAME, AgentIdFileError, dataDirAgentId } from '../../src/agent-identity.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'streamhouse-identity-'));

test('agent id: created once per data directory, stable across restarts, different per directory', async () => {
  const one = tempDir();
  const two = tempDir();
  try {
    const first = await dataDirAgentId(one);
    assert.equal(first.created, true);
    assert.match(first.agentId, /^agent-[0-9a-f-]{36}$/);
    assert.equal(readFileSync(join(one, AGENT_ID_FILE_NAME), 'utf8'), `${first.agentId}\n`);
    const again = await dataDirAgentId(one);
    assert.deepEqual(again, { agentId: first.agentId, created: false });
    const other = await dataDirAgentId(two);
    assert.notEqual(other.agentId, first.agentId);
    assert.deepEqual(readdirSync(one), [AGENT_ID_FILE_NAME], 'no temporary file left behind');
  } finally {
    rmSync(one, { recursive: true, force: true });
    rmSync(two, { recursive: true, force: true });
  }
});

test('agent id: a file written by hand is used; garbage is refused, naming the file; an empty one is replaced', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, AGENT_ID_FILE_NAME), 'rack1-broker7\n');
    assert.deepEqual(await dataDirAgentId(dir), { agentId: 'rack1-broker7', created: false });
    for (const bad of ['two words', 'x'.repeat(300), 'a/b']) {
      writeFileSync(join(dir, AGENT_ID_FILE_NAME), bad);
      await assert.rejects(dataDirAgentId(dir), (err: unknown) => err instanceof AgentIdFileError && err.message.includes(AGENT_ID_FILE_NAME));
    }
    // Empty (a machine crash right after it was created): a new id replaces it.
    writeFileSync(join(dir, AGENT_ID_FILE_NAME), '\n');
    const fresh = await dataDirAgentId(dir);
    assert.equal(fresh.created, true);
    assert.equal(readFileSync(join(dir, AGENT_ID_FILE_NAME), 'utf8'), `${fresh.agentId}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
