// `streamhouse users` on both configurations, before any agent started (the database is created and
// migrated by the command): create with several mechanisms, list (table and JSON: no secrets), delete
// one mechanism then the user; usage errors exit 2, deleting a user without credentials exits 1.
// And the start-up warning for a listener without authentication bound beyond loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, startAgent } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { runClient } from '../helpers/run-client.js';

for (const backendName of BACKENDS) {
  describe(`streamhouse users (${backendName})`, () => {
    let backend: Backend;
    let dir: string;
    let where: string[];

    before(async () => {
      backend = await startBackend(backendName);
      dir = mkdtempSync(join(tmpdir(), 'streamhouse-users-'));
      where = backend.env.DATABASE_URL ? ['--database-url', backend.env.DATABASE_URL] : ['--data-dir', dir];
    });
    after(async () => {
      await backend?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const users = (args: string[], env: Record<string, string> = {}) => runClient('node', [cliPath(), 'users', ...args, ...where], { env, timeoutMs: 60_000 });

    test('create, list, delete', async () => {
      const c = await users(['create', 'alice', '--mechanism', 'SCRAM-SHA-512,PLAIN', '--iterations', '8192'], { STREAMHOUSE_USER_PASSWORD: 'pw' });
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout.trim(), 'created alice (SCRAM-SHA-512, PLAIN)');
      assert.equal((await users(['create', 'bob', '--password', 'pw2'])).code, 0);
      const list = await users(['list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), [
        { user: 'alice', mechanism: 'PLAIN', iterations: 4096 },
        { user: 'alice', mechanism: 'SCRAM-SHA-512', iterations: 8192 },
        { user: 'bob', mechanism: 'SCRAM-SHA-256', iterations: 4096 },
        { user: 'bob', mechanism: 'SCRAM-SHA-512', iterations: 4096 },
      ]);
      assert.doesNotMatch(list.stdout, /pw/);
      const table = await users(['list']);
      assert.match(table.stdout, /^USER\s+MECHANISM\s+ITERATIONS\nalice\s+PLAIN\s+4096\n/);
      assert.equal((await users(['delete', 'alice', '--mechanism', 'PLAIN'])).stdout.trim(), 'deleted alice (PLAIN)');
      assert.equal((await users(['delete', 'bob'])).stdout.trim(), 'deleted bob (SCRAM-SHA-256, SCRAM-SHA-512)');
      assert.deepEqual(JSON.parse((await users(['list', '--json'])).stdout).map((r: { user: string }) => r.user), ['alice']);
    });

    test('usage errors exit 2; deleting a user without credentials exits 1', async () => {
      for (const args of [['create', 'x'], ['create', 'x', '--password', 'p', '--mechanism', 'GSSAPI'], ['create', 'x', '--password', 'p', '--iterations', '100'], ['create'], ['frobnicate']]) {
        const r = await users(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /^streamhouse: /);
      }
      const r = await users(['delete', 'nobody']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no credentials of user nobody/);
    });
  });
}

test('a listener without authentication bound beyond loopback is warned about at start, a SASL one is not', async () => {
  const [plain, sasl] = [await freePort(), await freePort()];
  const agent = await startAgent({ port: plain, args: ['--listeners', `PLAINTEXT://0.0.0.0:${plain},SASL_PLAINTEXT://0.0.0.0:${sasl}`] });
  try {
    // The warnings come once every listener is open, before the "listening" line.
    for (let i = 0; i < 100 && !agent.output().includes('"msg":"listening"'); i++) await new Promise((r) => setTimeout(r, 100));
    const warnings = agent
      .output()
      .split('\n')
      .filter((l) => l.includes('listener without authentication bound beyond loopback'))
      .map((l) => (JSON.parse(l) as { listener: string }).listener);
    assert.deepEqual(warnings, ['PLAINTEXT']);
  } finally {
    await agent.stop();
  }
});
