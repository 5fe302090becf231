// Runs every compiled test file (dist/test/**/*.test.js) with node:test.
// Usage: node test/run.mjs [substring ...]  — only files whose path contains one of the substrings.
// The runner gets its own process group: SIGINT/SIGTERM/SIGHUP sent to us are forwarded to it (and to
// the test files it runs), and when it ends, whatever of that group is left is killed. Each test file's
// reaper watchdog (test/helpers/reaper.ts) then stops the agents, clients and PostgreSQL clusters its
// test process started; we wait for them, and finish the job of any watchdog that does not finish.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'test');
const files = [];
(function walk(d) {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(dir);
const filters = process.argv.slice(2);
const selected = files
  .filter((f) => filters.length === 0 || filters.some((s) => relative(dir, f).includes(s)))
  .sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));
const runDir = mkdtempSync(join(tmpdir(), 'streamhouse-test-run-'));
const child = spawn(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...selected],
  { stdio: 'inherit', cwd: root, detached: true, env: { ...process.env, STREAMHOUSE_TEST_RUN_DIR: runDir } },
);

const killGroup = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is empty
  }
};
let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // A second signal means: stop now.
  process.on(signal, () => killGroup(++signals > 1 ? 'SIGKILL' : signal));
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Waits for the watchdogs to stop what their test processes left, up to 20 s; then does it itself. */
async function finishWatchdogs() {
  const pending = () => readdirSync(runDir).filter((f) => /^\d+\.json$/.test(f));
  const deadline = Date.now() + 20_000;
  while (pending().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = pending();
  if (left.length === 0) return;
  const { reapEntry } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'reaper.js')).href);
  for (const file of left) {
    const pid = Number(file.slice(0, -'.json'.length));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    let entries = [];
    try {
      entries = JSON.parse(readFileSync(join(runDir, file), 'utf8'));
    } catch {
      // written half-way when its watchdog was killed
    }
    console.error(`test/run.mjs: watchdog ${pid} did not finish; stopping ${entries.length} process(es) it held`);
    for (const entry of entries) reapEntry(entry);
  }
}

child.on('exit', async (code, signal) => {
  killGroup('SIGKILL'); // test files still running after the runner ended
  try {
    await finishWatchdogs();
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  process.exit(code ?? (signal ? 1 : 0));
});
