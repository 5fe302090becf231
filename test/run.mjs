// Runs every compiled test file (dist/test/**/*.test.js) with node:test.
// Usage: node test/run.mjs [substring ...]  — only files whose path contains one of the substrings.
// The runner gets its own process group: SIGINT/SIGTERM/SIGHUP sent to us are forwarded to it (and to
// the test files it runs), and when it ends, whatever of that group is left is killed. Each test file's
// reaper watchdog (test/helpers/reaper.ts) then stops the agents, clients and PostgreSQL clusters its
// test process started; we wait for them, and finish the job of any watchdog that does not finish.
// A file may ask for more than the 5 minutes node:test gives each file (`// test-file-timeout-ms: N`):
// it then runs alone in a second lane, beside the others (below).
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
const RUN_DIR_ENV = 'STREAMHOUSE_TEST_RUN_DIR'; // test/helpers/reaper.ts
const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));

// node:test times out a whole test file after --test-timeout (5 minutes). A file that needs longer
// says so in a comment line of its own, `// test-file-timeout-ms: N`; such files run one at a time,
// each with its own timeout, in a second lane beside the others (their output is printed whole as
// each ends), so the long files do not add their time after everything else. TEST_LONG_BESIDE=0 runs
// them after the others instead.
const DEFAULT_TIMEOUT_MS = 300_000;
const fileTimeout = (f) => {
  const m = /^\/\/ test-file-timeout-ms: (\d+)$/m.exec(readFileSync(f, 'utf8').slice(0, 8000));
  return m ? Number(m[1]) : DEFAULT_TIMEOUT_MS;
};
const main = [{ files: selected.filter((f) => fileTimeout(f) === DEFAULT_TIMEOUT_MS), timeout: DEFAULT_TIMEOUT_MS, concurrency }];
// Longest allowance first: the lane's end is what the whole run waits for.
const long = selected
  .filter((f) => fileTimeout(f) !== DEFAULT_TIMEOUT_MS)
  .sort((a, b) => fileTimeout(b) - fileTimeout(a))
  .map((f) => ({ files: [f], timeout: fileTimeout(f), concurrency: 1 }));
const beside = process.env.TEST_LONG_BESIDE !== '0';
const lanes = beside ? [{ runs: main, buffered: false }, { runs: long, buffered: true }] : [{ runs: [...main, ...long], buffered: false }];

const children = new Set();
let signals = 0;
const killGroup = (child, signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is empty
  }
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // A second signal means: stop now.
  process.on(signal, () => {
    const s = ++signals > 1 ? 'SIGKILL' : signal;
    for (const c of children) killGroup(c, s);
  });
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Waits for the watchdogs of one run to stop what their test processes left, up to 20 s; then does it itself. */
async function finishWatchdogs(runDir) {
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

/** One node --test invocation; its own watchdog directory, so that lanes never wait for each other's. */
async function invoke(run, buffered) {
  const runDir = mkdtempSync(join(tmpdir(), 'streamhouse-test-run-'));
  try {
    const child = spawn(
      process.execPath,
      ['--test', `--test-concurrency=${run.concurrency}`, `--test-timeout=${run.timeout}`, ...run.files],
      { stdio: buffered ? ['ignore', 'pipe', 'pipe'] : 'inherit', cwd: root, detached: true, env: { ...process.env, [RUN_DIR_ENV]: runDir } },
    );
    children.add(child);
    const out = [];
    if (buffered) {
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => out.push(d));
    }
    const [code, signal] = await new Promise((done) => child.once('close', (c, s) => done([c, s])));
    children.delete(child);
    killGroup(child, 'SIGKILL'); // test files still running after the runner ended
    await finishWatchdogs(runDir);
    if (buffered) process.stdout.write(`# test/run.mjs: ${run.files.map((f) => relative(root, f)).join(' ')} (ran beside the others)\n${Buffer.concat(out).toString()}`);
    return code ?? (signal ? 1 : 0);
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

let status = 0;
await Promise.all(
  lanes.map(async (lane) => {
    for (const run of lane.runs.filter((r) => r.files.length > 0)) {
      if (signals > 0) break;
      const code = await invoke(run, lane.buffered);
      if (status === 0) status = code;
    }
  }),
);
process.exit(status);
