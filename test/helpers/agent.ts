// Starts the real agent (`node dist/src/cli.js start`) as a child process on a free port, waits until
// it listens, and stops it by PID. End-to-end tests talk to it with real Kafka clients.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { freePort } from './ports.js';

export interface AgentHandle {
  readonly port: number;
  readonly bootstrap: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the agent printed so far. */
  output(): string;
  /** SIGTERM (graceful) or SIGKILL; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops and starts again on the same port and data directory. */
  restart(signal?: NodeJS.Signals): Promise<AgentHandle>;
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
  const child = spawn(
    process.execPath,
    [cliPath(), 'start', '--host', '127.0.0.1', '--port', String(port), '--advertised-host', '127.0.0.1', '--data-dir', dataDir, ...(opts.args ?? [])],
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
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  await waitForListening(child, port, () => out, exited, opts.startTimeoutMs ?? 60_000);

  const handle: AgentHandle = {
    port,
    bootstrap: `127.0.0.1:${port}`,
    dataDir,
    pid: child.pid!,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (ownDir && opts.cleanup !== false) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      return startAgent({ ...opts, port, dataDir, cleanup: ownDir && opts.cleanup !== false });
    },
  };
  return handle;
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
