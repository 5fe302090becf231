// Starts the real agent (`node dist/src/cli.js start`) as a child process on a free port, waits until
// it listens, and stops it by PID. End-to-end tests talk to it with real Kafka clients. Agents are
// registered with the reaper: one left running by a test is killed when the test process ends.
import { type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LOCK_FILE_NAME } from '../../src/data-dir-lock.js';
import { projectRoot } from './paths.js';
import { freePort } from './ports.js';
import { processState, spawnTracked } from './reaper.js';

export interface AgentHandle {
  readonly port: number;
  /** The HTTP endpoint's port (/metrics, /healthz, /readyz): a free one unless args set --http-port; undefined when that is 0. */
  readonly httpPort: number | undefined;
  /** http://127.0.0.1:<httpPort> */
  readonly httpUrl: string | undefined;
  readonly bootstrap: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the agent printed so far. */
  output(): string;
  /** SIGTERM (graceful) or SIGKILL; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /**
   * Stops and starts again on the same port and data directory. With SIGKILL it restarts at once, as a
   * supervisor does: the new agent is started while the killed one is still a zombie (not reaped:
   * this process's event loop is held until the new agent has taken the data-dir lock).
   */
  restart(signal?: NodeJS.Signals): Promise<AgentHandle>;
  /** After restart('SIGKILL'): whether the previous agent was still an unreaped zombie when this one took the data-dir lock. */
  readonly startedOverZombie?: boolean;
}

export interface StartAgentOptions {
  /** Extra environment (e.g. DATABASE_URL, S3_*). */
  env?: Record<string, string>;
  args?: string[];
  dataDir?: string;
  port?: number;
  /** Remove the data directory when stopped (default: when we created it). */
  cleanup?: boolean;
  startTimeoutMs?: number;
}

export function cliPath(): string {
  return join(projectRoot(), 'dist', 'src', 'cli.js');
}

export async function startAgent(opts: StartAgentOptions = {}): Promise<AgentHandle> {
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'streamhouse-agent-'));
  // Agents of one test run side by side: each gets a free HTTP port (the default, 9644, is one per machine).
  const given = opts.args?.indexOf('--http-port') ?? -1;
  const httpPort = given >= 0 ? Number(opts.args![given + 1]) : await freePort();
  return launch(opts, port, httpPort, dataDir, opts.cleanup ?? ownDir);
}

async function launch(opts: StartAgentOptions, port: number, httpPort: number, dataDir: string, removeDir: boolean, previous?: ChildProcess): Promise<AgentHandle> {
  // SIGKILL is delivered asynchronously: the port and the lock are free once the process is a zombie.
  if (previous) waitUntil(() => processState(previous.pid!) !== undefined && processState(previous.pid!) !== 'Z', 10_000);
  const child = spawnTracked(
    process.execPath,
    [cliPath(), 'start', '--host', '127.0.0.1', '--port', String(port), '--advertised-host', '127.0.0.1', '--data-dir', dataDir, '--http-port', String(httpPort), '--http-host', '127.0.0.1', ...(opts.args ?? [])],
    {
      env: {
        ...process.env,
        STREAMHOUSE_LOG_LEVEL: process.env.STREAMHOUSE_TEST_LOG_LEVEL ?? 'info',
        // A Produce frame used after its release then reads 0xdd bytes and fails the test loudly.
        STREAMHOUSE_POISON_RELEASED_FRAMES: 'true',
        STREAMHOUSE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
    // A killed test process leaves no data directory behind either.
    { removeDir: removeDir ? dataDir : undefined },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const startedOverZombie = previous ? holdZombieUntilLocked(previous, child, dataDir) : undefined;

  await waitForListening(child, port, () => out, exited, opts.startTimeoutMs ?? 60_000);

  const handle: AgentHandle = {
    port,
    httpPort: httpPort > 0 ? httpPort : undefined,
    httpUrl: httpPort > 0 ? `http://127.0.0.1:${httpPort}` : undefined,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    pid: child.pid!,
    startedOverZombie,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (removeDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      const running = child.exitCode === null && child.signalCode === null;
      if (running) child.kill(signal);
      if (signal === 'SIGKILL' && running) return launch(opts, port, httpPort, dataDir, removeDir, child);
      await exited;
      return launch(opts, port, httpPort, dataDir, removeDir);
    },
  };
  return handle;
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Blocks while `busy()` holds, up to `timeoutMs`. */
function waitUntil(busy: () => boolean, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  while (busy() && Date.now() < deadline) pause(2);
}

/**
 * Blocks this process (so Node cannot reap `old`) until `next` has written its PID into the data-dir
 * lock, or exited, or 15 s passed. Returns whether `old` was a zombie when the lock changed hands.
 */
function holdZombieUntilLocked(old: ChildProcess, next: ChildProcess, dataDir: string): boolean {
  const deadline = Date.now() + 15_000;
  const lock = join(resolve(dataDir), LOCK_FILE_NAME);
  while (Date.now() < deadline) {
    let holder: string | undefined;
    try {
      holder = readFileSync(lock, 'utf8').split('\n')[0];
    } catch {
      // not there yet (or between a takeover's unlink and link)
    }
    if (holder === String(next.pid)) return processState(old.pid!) === 'Z';
    const state = processState(next.pid!);
    if (state === undefined || state === 'Z') return false; // it failed to start: waitForListening says why
    pause(5);
  }
  return false;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Ready when the process is alive and its port accepts connections (works at any log level). */
async function waitForListening(child: ChildProcess, port: number, output: () => string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  while (Date.now() < deadline) {
    if (exitCode !== undefined || child.exitCode !== null) throw new Error(`agent exited (${child.exitCode}) before listening:\n${output()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`agent did not listen within ${timeoutMs} ms:\n${output()}`);
}
