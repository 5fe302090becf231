// An exclusive lock on a data directory, held for the life of the process. PGlite takes no lock on its
// files and a second process opening a live directory corrupts it, so whoever opens one takes this first.
//
// The lock is a file `LOCK` in the directory, created atomically (link(2) of a fully written temp file,
// which fails if LOCK exists), holding the owner's PID and, on Linux, the owner's start time (so a PID
// reused by an unrelated process after a crash is still recognised as stale). A lock whose owner is
// dead is taken over, but only by the holder of a second lock file, `LOCK.takeover` (same protocol):
// it checks that LOCK still holds the stale content and removes it, then everyone races on link(2)
// again, which exactly one wins. Nothing else ever removes a LOCK file but its owner, so a live lock
// cannot be removed by a racing takeover. (A takeover file left by a process that died during the few
// microseconds of a takeover is itself removed as stale.)
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'LOCK';

export interface DataDirLock {
  /** The directory locked (absolute, symlinks resolved). */
  readonly dir: string;
  /**
   * True when the directory was locked by a process that is gone without releasing it (killed, crashed,
   * machine lost): whatever that process registered elsewhere under this directory's identity is
   * known to be dead, however recent its traces (the agent takes over its own agents row on this).
   */
  readonly previousOwnerDied: boolean;
  release(): Promise<void>;
}

/** Thrown when another live process (or this one) holds the lock. */
export class DataDirInUseError extends Error {
  readonly pid: number;
  readonly dir: string;
  constructor(dir: string, pid: number) {
    super(
      pid === process.pid
        ? `data directory ${dir} is in use by this process (PID ${pid}): it is already open`
        : `data directory ${dir} is in use by process ${pid}; stop that process or choose another data directory`,
    );
    this.name = 'DataDirInUseError';
    this.pid = pid;
    this.dir = dir;
  }
}

interface Owner {
  pid: number;
  /** Process start time in clock ticks since boot (Linux /proc/PID/stat field 22); undefined elsewhere. */
  startTime?: string;
}

/** Locks held by this process, by directory. */
const held = new Map<string, string>();
let exitHookInstalled = false;

/** Fields of /proc/PID/stat after comm: [0] is the state (field 3), [19] the start time (field 22). */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is parenthesised and may hold spaces: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

function parseOwner(text: string): Owner | undefined {
  const [pidLine, startLine] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: startLine?.trim() || undefined };
}

function isAlive(owner: Owner): boolean {
  if (owner.pid === process.pid) {
    // Only a lock recorded in `held` is really ours; otherwise the file is a leftover of an earlier
    // process that had our PID (common in containers, where the agent is often PID 1).
    return false;
  }
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A process killed with SIGKILL stays a zombie until its parent reaps it, and kill(pid, 0) still
  // succeeds for it; a supervisor restarting at once must not be refused by a dead owner.
  const state = procStat(owner.pid)?.[0];
  if (state === 'Z' || state === 'X') return false;
  if (owner.startTime !== undefined) {
    const now = processStartTime(owner.pid);
    if (now !== undefined && now !== owner.startTime) return false; // PID reused
  }
  return true;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [dir, content] of held) {
      const file = join(dir, LOCK_FILE_NAME);
      try {
        if (readFileSync(file, 'utf8') === content) unlinkSync(file);
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Takes the exclusive lock on `dataDir` (created if missing). Rejects with DataDirInUseError naming the
 * holder's PID when a live process holds it; a stale lock from a dead process is taken over.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const dir = await realpath(dataDir);
  if (held.has(dir)) throw new DataDirInUseError(dir, process.pid);
  held.set(dir, ''); // claimed by this call (synchronously after the check)
  const file = join(dir, LOCK_FILE_NAME);
  const takeover = join(dir, TAKEOVER_FILE_NAME);
  const content = `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`;
  const tmp = join(dir, `${LOCK_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}`);
  let acquired = false;
  let staleSeen = false;
  try {
    await writeFile(tmp, content, { flag: 'wx' });
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await createFrom(tmp, file)) {
        acquired = true;
        held.set(dir, content);
        installExitHook();
        return { dir, previousOwnerDied: staleSeen, release: () => release(dir, content) };
      }
      const text = await readIfExists(file);
      if (text === undefined) continue; // released meanwhile
      const owner = parseOwner(text);
      // A half-written LOCK cannot exist (only complete files are linked), so an unparsable one is garbage.
      if (owner && isAlive(owner)) throw new DataDirInUseError(dir, owner.pid);
      staleSeen = true;
      // Stale. Only the holder of the takeover file may remove it.
      if (!(await createFrom(tmp, takeover))) {
        const other = await readIfExists(takeover);
        const otherOwner = other === undefined ? undefined : parseOwner(other);
        if (other !== undefined && !(otherOwner && isAlive(otherOwner))) await removeStale(takeover, other, dir);
        else await sleep(2 + Math.random() * 8); // a live process is taking over right now
        continue;
      }
      try {
        if ((await readIfExists(file)) === text) await unlink(file).catch(() => {});
      } finally {
        if ((await readIfExists(takeover)) === content) await unlink(takeover).catch(() => {});
      }
    }
    throw new Error(`could not lock data directory ${dir}: the LOCK file keeps changing`);
  } finally {
    if (!acquired) held.delete(dir);
    await unlink(tmp).catch(() => {});
  }
}

const TAKEOVER_FILE_NAME = `${LOCK_FILE_NAME}.takeover`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Atomically creates `target` with the contents of `source`; false if `target` exists. */
async function createFrom(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Removes `file` if it still holds `expected`: moved aside atomically first, put back if it changed. */
async function removeStale(file: string, expected: string, dir: string): Promise<void> {
  const aside = join(dir, `${LOCK_FILE_NAME}.stale.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((await readIfExists(aside)) !== expected) await createFrom(aside, file).catch(() => false);
  await unlink(aside).catch(() => {});
}

async function release(dir: string, content: string): Promise<void> {
  if (held.get(dir) !== content) return; // already released
  held.delete(dir);
  const file = join(dir, LOCK_FILE_NAME);
  try {
    if ((await readFile(file, 'utf8')) === content) await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
