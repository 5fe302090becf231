// Every process a test starts is stopped when the test process ends, however it ends (SIGKILL and
// node:test's cancellation included). The first registration starts one watchdog process
// (reaper-process.ts) in its own session, holding a pipe from this process; helpers register each child
// (its process group, or a PostgreSQL cluster to stop with pg_ctl). When the pipe closes — this process
// exited, crashed or was killed — the watchdog kills whatever is still registered. Helpers unregister
// what they stopped themselves; an exit hook here also kills children at once on an orderly exit.
//
// Children are started in their own process group (`detached: true`) so that what they fork (go build's
// compilers) goes with them: kill(-pgid). A PGID is not reused while any member of its group lives.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';

/** What to stop: a process group (or a single process), or a PostgreSQL cluster. */
export type ReapEntry =
  | { kind: 'group' | 'process'; pid: number; start?: string; /** removed once it is killed */ dir?: string }
  | { kind: 'postgres'; bin: string; data: string; dir: string; asRoot: boolean };

/** The environment variable test/run.mjs sets: a directory where each watchdog lists what it holds. */
export const RUN_DIR_ENV = 'STREAMHOUSE_TEST_RUN_DIR';

/** Start time of a process (/proc/PID/stat field 22), to tell it from a later process with its PID. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Process state letter (R, S, Z...) or undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2)[0];
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a killed child its parent has not reaped yet runs nothing). */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Stops one registered thing, synchronously; never throws. */
export function reapEntry(entry: ReapEntry): void {
  try {
    if (entry.kind === 'postgres') return reapPostgres(entry);
    // The PID holds someone else's process now: leave it alone. (Its group, if any of ours remain
    // in it, cannot have been reused; a missing leader still lets us kill the group.)
    const start = processStartTime(entry.pid);
    if (start !== undefined && entry.start !== undefined && start !== entry.start) return;
    try {
      process.kill(entry.kind === 'group' ? -entry.pid : entry.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (entry.dir) rmSync(entry.dir, { recursive: true, force: true, maxRetries: 5 });
  } catch {
    // nothing more we can do
  }
}

function reapPostgres(entry: Extract<ReapEntry, { kind: 'postgres' }>): void {
  const pidFile = join(entry.data, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const argv = [join(entry.bin, 'pg_ctl'), '-D', entry.data, '-m', 'immediate', '-w', '-t', '10', 'stop'];
    if (entry.asRoot) spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', argv.map(quote).join(' ')], { stdio: 'ignore', timeout: 15_000 });
    else spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 15_000 });
    // pg_ctl failed or timed out: the postmaster's backends exit by themselves once it is gone.
    if (Number.isInteger(postmaster) && postmaster > 0 && isRunning(postmaster)) {
      try {
        process.kill(postmaster, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  rmSync(entry.dir, { recursive: true, force: true });
}

// ---- this process's side ----

let watchdog: Writable | undefined;
let nextId = 1;
const registered = new Map<number, ReapEntry>();

function watchdogScript(): string[] {
  const self = fileURLToPath(import.meta.url);
  const underTsx = self.endsWith('.ts');
  return [...(underTsx ? ['--import', 'tsx'] : []), self.replace(/reaper\.(ts|js)$/, `reaper-process.$1`)];
}

function send(message: object): void {
  if (!watchdog) {
    const child = spawn(process.execPath, watchdogScript(), { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // Neither the watchdog nor its pipe keeps this process alive; its end is what the watchdog waits for.
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    child.stdin!.on('error', () => undefined); // the watchdog died: the exit hook still stops our children
    watchdog = child.stdin!;
    process.on('exit', () => {
      for (const entry of registered.values()) if (entry.kind !== 'postgres') reapEntry(entry);
    });
  }
  // Small writes to an empty pipe complete at once, so a registration is not lost if we die next.
  watchdog.write(`${JSON.stringify(message)}\n`);
}

/** Registers something to stop when this process ends; returns the id to unregister it with. */
export function register(entry: ReapEntry): number {
  const id = nextId++;
  registered.set(id, entry);
  send({ op: 'add', id, entry });
  return id;
}

export function unregister(id: number): void {
  if (registered.delete(id)) send({ op: 'del', id });
}

/**
 * Registers a child started with `detached: true` (its own process group) and unregisters it when it
 * exits, after killing what is left of its group (grandchildren it did not wait for).
 */
export function track(child: ChildProcess, opts: { removeDir?: string } = {}): ChildProcess {
  const pid = child.pid;
  if (pid === undefined) return child; // spawn failed; the 'error' event says why
  const id = register({ kind: 'group', pid, start: processStartTime(pid), dir: opts.removeDir });
  child.once('exit', () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
    unregister(id);
  });
  return child;
}

/** spawn() in a new process group, stopped with the test process at the latest. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}, opts: { removeDir?: string } = {}): ChildProcess {
  return track(spawn(command, args, { ...options, detached: true }), opts);
}

/** Kills a tracked child's whole process group (the child and everything it started). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

// ---- the watchdog's side (reaper-process.ts) and test/run.mjs ----

/** Where a watchdog lists what it holds, when run by test/run.mjs. */
export function watchdogFile(runDir: string, pid: number): string {
  return join(runDir, `${pid}.json`);
}

export function writeWatchdogFile(file: string, entries: Iterable<ReapEntry>): void {
  try {
    writeFileSync(file, JSON.stringify([...entries]));
  } catch {
    // the run directory is gone: nobody is left to read it
  }
}

export function removeWatchdogFile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already removed
  }
}
