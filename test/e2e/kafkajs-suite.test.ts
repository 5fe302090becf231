// kafkajs's own integration specs (the `core` list of ../shared/tools/kafkajs-suite.sh, 58 files, ~230
// tests) against three agents on PostgreSQL + the S3 test server, through scripts/kafkajs-suite.ts: the
// same command a developer runs (`npm run kafkajs-suite -- -l core`). About 5 minutes on 2 cores, plus
// ~1 minute the first time to install the suite's dev dependencies from the npm registry (kept in
// .tmp/kafkajs-suite, or $KAFKAJS_WORK). Skipped when ../shared (the kafkajs tree and the runner) is
// absent, or with STREAMHOUSE_SKIP_KAFKAJS_SUITE=1.
//
// Not all specs pass yet (issue 13). Until they do, this test guards against regressions: every spec
// must pass except those listed in KNOWN_FAILING, each with the reason it fails today. A listed spec
// that passes is reported, so the list can shrink as fixes land; when it is empty, the test asserts
// that everything passes.
//
// The core list takes longer than the 5 minutes test/run.mjs gives a test file:
// test-file-timeout-ms: 1800000
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot, sharedDir } from '../helpers/paths.js';
import { spawnTracked } from '../helpers/reaper.js';

/** Spec titles (jest's full names) that fail today, with why. */
const KNOWN_FAILING: ReadonlyMap<string, string> = new Map([
  // Timing: kafkajs's requestTimeout is 1 ms and the spec expects CreateTopics to take longer; ours is
  // sometimes answered within the millisecond (passed and failed in consecutive runs on 2026-12-03).
  ['Admin emits the request timeout event', 'CreateTopics sometimes answered within the spec\'s 1 ms request timeout'],
  // Written against Kafka 2.4's topic configs: max.message.bytes 1000012 (current Kafka's default, and
  // ours, is 1048588), message.format.version 2.x and message.downconversion.enable, which Kafka 4
  // removed. Kept failing on purpose.
  ['Broker > describeConfigs request without config names returns all config entries', "Kafka 2.4's topic config defaults (spec pinned to 2.4)"],
]);

interface SpecResult {
  file: string;
  title: string;
  status: 'passed' | 'failed' | 'skipped';
  message: string;
}

/** Every test of every spec file, from the jest JSON files the runner leaves in `outDir`. */
function readResults(outDir: string): SpecResult[] {
  const out: SpecResult[] = [];
  for (const name of readdirSync(outDir).filter((n) => n.endsWith('.rc')).sort()) {
    const base = join(outDir, name.slice(0, -'.rc'.length));
    let file = name.slice(4, -'.rc'.length); // the runner's name for it: the path with / as _
    const json = `${base}.json`;
    if (!existsSync(json)) {
      const log = existsSync(`${base}.log`) ? readFileSync(`${base}.log`, 'utf8').slice(-500) : '';
      out.push({ file, title: `[no jest result] ${file}`, status: 'failed', message: log });
      continue;
    }
    const j = JSON.parse(readFileSync(json, 'utf8')) as {
      testResults: Array<{ name: string; status: string; message?: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
    };
    for (const r of j.testResults) {
      const at = r.name.indexOf('/src/');
      if (at >= 0) file = r.name.slice(at + 1);
      for (const a of r.assertionResults) {
        const status = a.status === 'passed' ? 'passed' : a.status === 'failed' ? 'failed' : 'skipped';
        out.push({ file, title: a.fullName, status, message: (a.failureMessages[0] ?? '').replace(/\u001b\[[0-9;]*m/g, '') });
      }
      if (r.status === 'failed' && !r.assertionResults.some((a) => a.status === 'failed')) {
        out.push({ file, title: `[suite] ${file}`, status: 'failed', message: r.message ?? '' });
      }
    }
  }
  return out;
}

function suiteAvailable(): string | false {
  if (process.env.STREAMHOUSE_SKIP_KAFKAJS_SUITE === '1') return 'STREAMHOUSE_SKIP_KAFKAJS_SUITE=1';
  const dirs = [sharedDir(), resolve(projectRoot(), '..', '..', 'shared')].filter((d): d is string => d !== undefined);
  const found = dirs.some((d) => existsSync(join(d, 'tools', 'kafkajs-suite.sh')) && existsSync(join(d, 'kafkajs', 'package.json')));
  return found ? false : 'no ../shared with tools/kafkajs-suite.sh and kafkajs/: kafkajs suite skipped';
}

/** Runs the core list through the script into `outDir`; fails when the runner itself fails. */
async function runCore(t: TestContext, outDir: string): Promise<void> {
  const started = Date.now();
  const script = join(projectRoot(), 'dist', 'scripts', 'kafkajs-suite.js');
  const child = spawnTracked(process.execPath, [script, '-l', 'core', '-j', '2', '-t', '300', '-o', outDir], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  t.diagnostic(`kafkajs core list: ${Math.round((Date.now() - started) / 1000)} s, exit ${code}; logs in ${outDir}`);
  // 0: all passed, 1: some failed; anything else: the cluster or the runner did not work.
  assert.ok(code === 0 || code === 1, `the runner failed (exit ${code}):\n${output.slice(-3000)}`);
}

test('kafkajs core specs on three agents: no spec fails but the known ones', { skip: suiteAvailable(), timeout: 30 * 60_000 }, async (t) => {
  // STREAMHOUSE_KAFKAJS_SUITE_RESULTS=<the -o folder of an earlier run>: check that run instead.
  const earlier = process.env.STREAMHOUSE_KAFKAJS_SUITE_RESULTS;
  const outDir = earlier ?? mkdtempSync(join(tmpdir(), 'kafkajs-suite-test-'));
  if (earlier === undefined) await runCore(t, outDir);

  const results = readResults(outDir);
  const failed = results.filter((r) => r.status === 'failed');
  const passed = results.filter((r) => r.status === 'passed');
  t.diagnostic(`${passed.length} passed, ${failed.length} failed, ${results.length - passed.length - failed.length} skipped`);
  assert.ok(results.length >= 200, `only ${results.length} specs ran (logs in ${outDir})`);

  const unexpected = failed.filter((r) => !KNOWN_FAILING.has(r.title));
  const nowPassing = passed.filter((r) => KNOWN_FAILING.has(r.title)).map((r) => r.title);
  if (nowPassing.length > 0) t.diagnostic(`listed as failing but passed (remove from KNOWN_FAILING if it keeps passing): ${nowPassing.join(' | ')}`);
  assert.deepEqual(
    unexpected.map((r) => `${r.file}: ${r.title} :: ${r.message.split('\n').find((l) => l.trim()) ?? ''}`),
    [],
    `specs failing that are not known to fail (logs in ${outDir})`,
  );
  if (earlier === undefined) rmSync(outDir, { recursive: true, force: true });
});
