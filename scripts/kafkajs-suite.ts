// Runs kafkajs's own integration specs (../shared/kafkajs, through ../shared/tools/kafkajs-suite.sh)
// against a three-agent cluster this script starts: a throwaway PostgreSQL, the S3 test server and
// three agents with node ids 0, 1, 2, advertised host `localhost`, num.partitions=2,
// group.initial.rebalance.delay.ms=0 and auto-created topics (kafkajs CI's broker settings). Every
// process it starts is stopped when the suite ends, when it gets SIGINT/SIGTERM/SIGHUP, and (through the
// test reaper's watchdog) when it is killed.
//
//   npm run kafkajs-suite -- -l core                 # free ports; any kafkajs-suite.sh option passes on
//   npm run kafkajs-suite -- -p 9092,9095,9098 -l mixed -j 2
//   npm run kafkajs-suite -- --cluster-only          # start the cluster, print its ports, wait for Ctrl-C
//   node dist/scripts/kafkajs-suite.js src/consumer/__tests__/seek.spec.js   # one spec file
//
// Options of its own: -p P1,P2,P3 (the agents' ports; default three free ports, so it runs next to
// other tests), --cluster-only, --agent-arg ARG (repeatable; extra `streamhouse start` flag for every
// agent). -H is refused (the agents advertise localhost). Everything else goes to kafkajs-suite.sh;
// -o DIR defaults to a fresh /tmp/kafkajs-suite.* folder, where the agents' logs (agent-N.log) go too.
// The kafkajs tree and its dev dependencies (~1,000 packages, ~1 min from the npm registry on first
// use) are kept in $KAFKAJS_WORK, default <project>/.tmp/kafkajs-suite, so later runs start at once.
// Exit status: the suite's (0 all passed, 1 some failed, 2 usage/preflight); 130/143 on a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { startBackend, type Backend } from '../test/helpers/backends.js';
import { projectRoot, sharedDir } from '../test/helpers/paths.js';
import { freePort } from '../test/helpers/ports.js';
import { track } from '../test/helpers/reaper.js';

interface SuiteOptions {
  ports?: [number, number, number];
  clusterOnly: boolean;
  agentArgs: string[];
  outDir?: string;
  /** Arguments for kafkajs-suite.sh other than -p and -o. */
  suiteArgs: string[];
}

function parseArgs(argv: string[]): SuiteOptions {
  const opts: SuiteOptions = { clusterOnly: false, agentArgs: [], suiteArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '-p': {
        const ports = value().split(',').map(Number);
        if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535) || new Set(ports).size !== 3) {
          throw new Error(`-p wants three different ports, e.g. 9092,9095,9098`);
        }
        opts.ports = ports as [number, number, number];
        break;
      }
      case '-o':
        opts.outDir = value();
        break;
      case '-H':
        throw new Error('-H is not supported: the agents advertise localhost, as the specs expect');
      case '--cluster-only':
        opts.clusterOnly = true;
        break;
      case '--agent-arg':
        opts.agentArgs.push(value());
        break;
      case '-k': case '-v': case '-l': case '-j': case '-t': case '-r':
        opts.suiteArgs.push(a, value());
        break;
      default:
        opts.suiteArgs.push(a);
    }
  }
  return opts;
}

/** The suite runner in ../shared (a worktree's ../shared may be one more level up). */
function suiteScript(): string {
  const candidates = [sharedDir(), join(projectRoot(), '..', '..', 'shared')].filter((d): d is string => d !== undefined);
  for (const dir of candidates) {
    const script = join(dir, 'tools', 'kafkajs-suite.sh');
    if (existsSync(script)) return script;
  }
  throw new Error('kafkajs-suite.sh not found: set STREAMHOUSE_SHARED_DIR to the shared/ folder (with tools/ and kafkajs/)');
}

/** PIDs of every descendant of `root` (read from /proc), children before their own children. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/**
 * Kills the suite runner and everything under it. kafkajs-suite.sh runs each jest under `timeout`,
 * which puts itself in a process group of its own, so killing the runner's group is not enough.
 */
function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  const pids = [child.pid, ...descendants(child.pid)];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** SIGTERM (the agent hands off and exits), SIGKILL after 20 s. */
async function stopAgent(agent: AgentHandle): Promise<void> {
  const timer = setTimeout(() => void agent.stop('SIGKILL'), 20_000);
  await agent.stop('SIGTERM');
  clearTimeout(timer);
}

async function main(): Promise<number> {
  let opts: SuiteOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`kafkajs-suite: ${(err as Error).message}`);
    return 2;
  }
  let script: string;
  try {
    script = suiteScript();
  } catch (err) {
    if (!opts.clusterOnly) throw err;
    script = 'kafkajs-suite.sh';
  }
  const outDir = opts.outDir ?? mkdtempSync(join(tmpdir(), 'kafkajs-suite.'));
  const ports = opts.ports ?? ((await Promise.all([freePort(), freePort(), freePort()])) as [number, number, number]);

  let backend: Backend | undefined;
  const agents: AgentHandle[] = [];
  let suite: ChildProcess | undefined;
  let stopping = false;

  const saveLogs = () => {
    agents.forEach((a, i) => writeFileSync(join(outDir, `agent-${i}.log`), a.output()));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`kafkajs-suite: ${signal}: stopping the suite, the agents and PostgreSQL`);
    if (suite) killTree(suite, 'SIGKILL');
    try {
      saveLogs();
    } catch {
      // the output folder is gone
    }
    // The agents are disposable: the exit hooks of test/helpers (reaper, postgres) kill them and the
    // PostgreSQL cluster and remove their folders.
    process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  try {
    backend = await startBackend('postgres+s3');
    const env = {
      ...backend.env,
      STREAMHOUSE_NUM_PARTITIONS: '2',
      STREAMHOUSE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      STREAMHOUSE_AUTO_CREATE_TOPICS: 'true',
      STREAMHOUSE_LOG_LEVEL: process.env.STREAMHOUSE_LOG_LEVEL ?? 'info',
    };
    // One after the other: the first runs the migrations.
    for (const [nodeId, port] of ports.entries()) {
      agents.push(
        await startAgent({
          port,
          env,
          // Later flags win over startAgent's own (--advertised-host 127.0.0.1).
          args: ['--advertised-host', 'localhost', '--node-id', String(nodeId), ...opts.agentArgs],
        }),
      );
    }
    console.log(`kafkajs-suite: agents 0,1,2 on localhost:${ports.join(',')} (PostgreSQL ${backend.postgres!.port}, S3 ${backend.s3!.endpoint}); agent logs in ${outDir}`);

    if (opts.clusterOnly) {
      console.log(`kafkajs-suite: cluster up; ${script} -p ${ports.join(',')} [spec files] runs specs against it. Ctrl-C stops it.`);
      await new Promise(() => undefined);
    }

    const args = ['-p', ports.join(','), '-o', outDir, ...opts.suiteArgs];
    suite = track(
      spawn('bash', [script, ...args], {
        stdio: 'inherit',
        detached: true,
        env: { ...process.env, KAFKAJS_WORK: process.env.KAFKAJS_WORK ?? join(projectRoot(), '.tmp', 'kafkajs-suite') },
      }),
    );
    const code = await new Promise<number>((resolve) => suite!.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
    suite = undefined;
    for (const [i, a] of agents.entries()) {
      if (/"level":(50|60)/.test(a.output())) console.log(`kafkajs-suite: agent ${i} logged errors (see ${join(outDir, `agent-${i}.log`)})`);
    }
    return code;
  } finally {
    if (!stopping) {
      saveLogs();
      await Promise.all(agents.map((a) => stopAgent(a)));
      await backend?.stop();
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`kafkajs-suite: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(2);
  },
);
