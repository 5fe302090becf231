// Nothing a test starts outlives it: a test process that started an agent and a PostgreSQL cluster is
// killed with SIGKILL (no exit hook runs), or its test is cancelled by node:test's timeout; within a few
// seconds neither the agent nor the postmaster is running and their directories are gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/paths.js';
import { isRunning, killGroup, spawnTracked } from '../helpers/reaper.js';
import { findPostgresBinaries } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const here = fileURLToPath(import.meta.url);
const underTsx = here.endsWith('.ts');
const helper = (name: string) => pathToFileURL(join(dirname(here), '..', 'helpers', `${name}${underTsx ? '.ts' : '.js'}`)).href;
const nodeArgs = underTsx ? ['--import', 'tsx'] : [];

/** Starts PostgreSQL and an agent on it, prints their PIDs and the cluster directory, then `then`. */
const starter = (then: string) => `
  const { startAgent } = await import(${JSON.stringify(helper('agent'))});
  const { startPostgres } = await import(${JSON.stringify(helper('postgres'))});
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const pg = await startPostgres();
  const agent = await startAgent({ env: { DATABASE_URL: await pg.createDatabase() } });
  const postmaster = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\\n')[0]);
  process.stdout.write(JSON.stringify({ agent: agent.pid, agentDir: agent.dataDir, postmaster, pgDir: pg.dir }) + '\\n');
  ${then}`;

interface Started {
  agent: number;
  agentDir: string;
  postmaster: number;
  pgDir: string;
}

function firstLine(child: ReturnType<typeof spawnTracked>): Promise<Started> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // Under node --test the line comes back as a TAP comment: '# {...}'.
      const json = /\{"agent".*\}/.exec(out);
      if (json) resolve(JSON.parse(json[0]) as Started);
    });
    child.once('exit', (code) => reject(new Error(`the test process exited (${code}) before starting everything:\n${out}`)));
  });
}

async function assertAllStopped(s: Started): Promise<void> {
  await waitFor('the agent and the postmaster to be stopped', () => !isRunning(s.agent) && !isRunning(s.postmaster), 10_000);
  await waitFor('their directories to be removed', () => !existsSync(s.pgDir) && !existsSync(s.agentDir), 10_000);
}

const skip = findPostgresBinaries() === undefined ? 'PostgreSQL server binaries not installed' : false;

test('a test process killed with SIGKILL leaves no agent and no PostgreSQL running', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamhouse-cleanup-'));
  const script = join(dir, 'victim.mjs');
  writeFileSync(script, starter('setInterval(() => {}, 1000);'));
  const victim = spawnTracked(process.execPath, [...nodeArgs, script], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const started = await firstLine(victim);
    assert.ok(isRunning(started.agent) && isRunning(started.postmaster), 'agent and postmaster run while the test process lives');
    process.kill(victim.pid!, 'SIGKILL'); // only the test process itself: no exit hook, no signal handler
    await assertAllStopped(started);
  } finally {
    killGroup(victim);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a test cancelled by --test-timeout leaves no agent and no PostgreSQL running', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamhouse-cleanup-'));
  const file = join(dir, 'hangs.test.mjs');
  // The test never stops what it started and never ends: node:test cancels it after 20 s.
  writeFileSync(file, `import { test } from 'node:test';\ntest('hangs', async () => {\n${starter('await new Promise(() => {});')}\n});\n`);
  // Without NODE_TEST_CONTEXT (set for us by our own runner) it runs as a runner of its own.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnTracked(process.execPath, [...nodeArgs, '--test', '--test-timeout=20000', file], { cwd: projectRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const started = await firstLine(run);
    const code = await new Promise<number | null>((resolve) => run.once('exit', resolve));
    assert.notEqual(code, 0, 'the cancelled test fails');
    await assertAllStopped(started);
  } finally {
    killGroup(run);
    rmSync(dir, { recursive: true, force: true });
  }
});
