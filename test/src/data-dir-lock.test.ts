// The data-directory lock, across real processes: refusal naming the holder's PID, takeover of stale
// locks (dead holder, reused PID, our own PID from an earlier life), and a takeover race.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { spawnTracked } from '../helpers/reaper.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { acquireDataDirLock, DataDirInUseError, LOCK_FILE_NAME } from '../../src/data-dir-lock.js';
import { projectRoot } from '../helpers/paths.js';

const here = fileURLToPath(import.meta.url);
const underTsx = here.endsWith('.ts');
const lockModule = resolve(dirname(here), '..', '..', 'src', `data-dir-lock${underTsx ? '.ts' : '.js'}`);

/** Starts a process that takes the lock on `dir` and reports 'locked' or 'refused <pid>', then holds it
 * (or exits at once with `exitAfter`); with `goAt` it waits for that moment (epoch ms) first. */
async function spawnLockHolder(dir: string, opts: { exitAfter?: boolean; goAt?: number } = {}): Promise<{ child: ChildProcess; line: string }> {
  const script = join(mkdtempSync(join(tmpdir(), 'streamhouse-lock-child-')), 'child.mjs');
  writeFileSync(
    script,
    `import { acquireDataDirLock } from ${JSON.stringify(pathToFileURL(lockModule).href)};
     const goAt = Number(process.argv[4] ?? 0);
     if (goAt > Date.now()) await new Promise((r) => setTimeout(r, goAt - Date.now()));
     try {
       await acquireDataDirLock(process.argv[2]);
       process.stdout.write('locked\\n');
       if (process.argv[3] === 'exit') process.exit(0);
       setInterval(() => {}, 1000);
     } catch (err) {
       process.stdout.write('refused ' + (err.pid ?? err.message) + '\\n');
       process.exit(0);
     }`,
  );
  const child = spawnTracked(process.execPath, [...(underTsx ? ['--import', 'tsx'] : []), script, dir, opts.exitAfter ? 'exit' : 'hold', String(opts.goAt ?? 0)], {
    cwd: projectRoot(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const line = await new Promise<string>((resolveLine, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolveLine(out.trim());
    });
    child.on('exit', (code) => (out.includes('\n') ? undefined : reject(new Error(`lock child exited with ${code}: ${out}`))));
  });
  child.on('exit', () => rmSync(dirname(script), { recursive: true, force: true }));
  return { child, line };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'streamhouse-lock-'));

test('data-dir lock: exclusive within a process, released and taken again', async () => {
  const dir = tempDir();
  try {
    const lock = await acquireDataDirLock(dir);
    assert.equal(lock.previousOwnerDied, false, 'a fresh directory had no previous owner');
    assert.equal(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').split('\n')[0], String(process.pid));
    await assert.rejects(acquireDataDirLock(dir), (err: unknown) => err instanceof DataDirInUseError && err.pid === process.pid);
    await lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE_NAME)), false);
    await lock.release(); // twice is harmless
    const again = await acquireDataDirLock(join(dir, 'nested', 'created'));
    await again.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Children still running at the end of a test are killed (a leftover would keep the runner's pipes open). */
const children = new Set<ChildProcess>();
async function killAll(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([...children].map(exited));
  children.clear();
}

test('data-dir lock: another process is refused with the holder\'s PID; a killed holder\'s lock is taken over', async () => {
  const dir = tempDir();
  try {
    const holder = await spawnLockHolder(dir);
    assert.equal(holder.line, 'locked');
    await assert.rejects(acquireDataDirLock(dir), (err: unknown) => {
      assert.ok(err instanceof DataDirInUseError);
      assert.equal(err.pid, holder.child.pid);
      assert.match(err.message, new RegExp(`data directory .* is in use by process ${holder.child.pid}`));
      return true;
    });
    const third = await spawnLockHolder(dir, { exitAfter: true });
    assert.equal(third.line, `refused ${holder.child.pid}`);
    holder.child.kill('SIGKILL'); // no chance to clean up: the LOCK file stays, stale
    await exited(holder.child);
    assert.ok(existsSync(join(dir, LOCK_FILE_NAME)));
    const lock = await acquireDataDirLock(dir);
    assert.equal(lock.previousOwnerDied, true, 'the killed holder never released the directory');
    assert.equal(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8').split('\n')[0], String(process.pid));
    await lock.release();
    // A process that exits normally removes its lock.
    const clean = await spawnLockHolder(dir, { exitAfter: true });
    assert.equal(clean.line, 'locked');
    await exited(clean.child);
    assert.equal(existsSync(join(dir, LOCK_FILE_NAME)), false);
    const afterClean = await acquireDataDirLock(dir);
    assert.equal(afterClean.previousOwnerDied, false, 'released cleanly: nothing left behind by a dead owner');
    await afterClean.release();
  } finally {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data-dir lock: stale lock files are recognised (dead PID, reused PID, our own PID, garbage)', async () => {
  const dir = tempDir();
  const file = join(dir, LOCK_FILE_NAME);
  try {
    for (const content of ['999999999\n\n', `${process.pid}\n\n`, 'not a pid', `${process.ppid}\nnot-its-start-time\n`]) {
      writeFileSync(file, content);
      const lock = await acquireDataDirLock(dir);
      assert.equal(lock.previousOwnerDied, true, content);
      await lock.release();
    }
    // A live PID without start time (another OS, or an older lock) is respected.
    writeFileSync(file, `${process.ppid}\n\n`);
    await assert.rejects(acquireDataDirLock(dir), DataDirInUseError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data-dir lock: processes racing to take over a stale lock, exactly one wins', async () => {
  const dir = tempDir();
  try {
    for (let round = 0; round < 3; round++) {
      writeFileSync(join(dir, LOCK_FILE_NAME), '999999999\n\n');
      const goAt = Date.now() + (underTsx ? 2000 : 400); // all start loading first, then all go at once
      const racers = await Promise.all([...Array(6)].map(() => spawnLockHolder(dir, { goAt })));
      const winners = racers.filter((r) => r.line === 'locked');
      assert.equal(winners.length, 1, racers.map((r) => r.line).join(', '));
      for (const r of racers) if (r !== winners[0]) assert.equal(r.line, `refused ${winners[0]!.child.pid}`);
      await killAll();
    }
  } finally {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data-dir lock: a holder killed with SIGKILL and not yet reaped (a zombie) does not block a restart', async () => {
  const dir = tempDir();
  // The holder's parent is a shell that execs sleep, which never reaps it: after SIGKILL it stays a
  // zombie, as an agent does until its supervisor calls wait().
  const script = join(dir, 'holder.mjs');
  writeFileSync(
    script,
    `import { acquireDataDirLock } from ${JSON.stringify(pathToFileURL(lockModule).href)};
     await acquireDataDirLock(process.argv[2]);
     process.stdout.write('locked\\n');
     setInterval(() => {}, 1000);`,
  );
  const node = [process.execPath, ...(underTsx ? ['--import', 'tsx'] : [])].map((a) => `'${a}'`).join(' ');
  const parent = spawnTracked('sh', ['-c', `${node} '${script}' '${join(dir, 'data')}' & exec sleep 60`], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(parent);
  try {
    await new Promise<void>((res, rej) => {
      parent.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && res());
      parent.once('exit', (code) => rej(new Error(`holder's parent exited with ${code}`)));
    });
    const holder = Number(readFileSync(join(dir, 'data', LOCK_FILE_NAME), 'utf8').split('\n')[0]);
    process.kill(holder, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (!readFileSync(`/proc/${holder}/stat`, 'utf8').split(') ')[1]!.startsWith('Z')) {
      assert.ok(Date.now() < deadline, 'the killed holder never became a zombie');
      await new Promise((r) => setTimeout(r, 10));
    }
    const lock = await acquireDataDirLock(join(dir, 'data'));
    await lock.release();
  } finally {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
