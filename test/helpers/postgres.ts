// A throwaway PostgreSQL server for tests and benchmarks, started from the Debian server binaries
// (/usr/lib/postgresql/<version>/bin; override with STREAMHOUSE_PG_BIN=<bin dir>). About one second.
//
//   const pg = await startPostgres();          // initdb + pg_ctl start on a free 127.0.0.1 port
//   const url = await pg.createDatabase();     // a fresh empty database (or use pg.url: "postgres")
//   await pg.kill(); await pg.restart();       // crash it and bring it back (same port, same data)
//   await pg.stop();                           // stop and delete everything
//
// PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` user through
// `su` and the cluster directory is chowned to it. Test clusters run with fsync=off (fast; a committed
// transaction still survives a server crash, only not an OS crash); pass { durable: true } for
// production-like commit costs (benchmarks). Clusters still running when the
// process exits (or gets SIGINT/SIGTERM) are stopped; each cluster is also registered with the reaper,
// whose watchdog stops it (pg_ctl stop, then the postmaster's PID) when this process is killed, and any
// cluster left behind all the same is swept by the next startPostgres().
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { register, unregister } from './reaper.js';

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The cluster directory (data/, log, socket). */
  readonly dir: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server abruptly (pg_ctl stop -m immediate, like a crash); files are kept. */
  kill(): Promise<void>;
  /** Starts the server again after kill(), on the same port. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** fsync and full_page_writes on (default false: tests need crash safety of the server process only). */
  durable?: boolean;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
}

const DIR_PREFIX = 'streamhouse-pg-';
const live = new Map<string, { bin: string; data: string; asRoot: boolean; reaperId: number }>();
let hooksInstalled = false;

/** The bin directory of the newest installed PostgreSQL server, or undefined. */
export function findPostgresBinaries(): string | undefined {
  const override = process.env.STREAMHOUSE_PG_BIN;
  if (override) return existsSync(join(override, 'initdb')) ? override : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

const isRoot = () => process.getuid?.() === 0;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function run(bin: string, tool: string, args: string[], asRoot: boolean): Promise<string> {
  const file = join(bin, tool);
  const [cmd, argv] = asRoot
    ? ['su', ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(quote).join(' ')]]
    : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${tool} ${args.join(' ')} failed: ${String(stderr || err.message).trim()}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

function runSync(bin: string, tool: string, args: string[], asRoot: boolean): void {
  const file = join(bin, tool);
  if (asRoot) spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(quote).join(' ')], { stdio: 'ignore' });
  else spawnSync(file, args, { stdio: 'ignore' });
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid <= 0) {
    throw new Error('running as root but there is no `postgres` user to run the test server as');
  }
  return { uid, gid };
}

function stopSync(dir: string): void {
  const entry = live.get(dir);
  live.delete(dir);
  if (entry && existsSync(join(entry.data, 'postmaster.pid'))) {
    runSync(entry.bin, 'pg_ctl', ['-D', entry.data, '-m', 'immediate', '-w', 'stop'], entry.asRoot);
  }
  rmSync(dir, { recursive: true, force: true });
  if (entry) unregister(entry.reaperId);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const dir of [...live.keys()]) stopSync(dir);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const dir of [...live.keys()]) stopSync(dir);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops and removes clusters whose owning process is gone (it was killed before it could clean up). */
function sweepOrphans(bin: string, asRoot: boolean): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const dir = join(tmpdir(), name);
    const data = join(dir, 'data');
    try {
      if (existsSync(join(data, 'postmaster.pid'))) runSync(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // another process may be sweeping it too
    }
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = findPostgresBinaries();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install the Debian package ' +
        '`postgresql`, or set STREAMHOUSE_PG_BIN to a directory holding initdb and pg_ctl)',
    );
  }
  const asRoot = isRoot();
  sweepOrphans(bin, asRoot);
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const data = join(dir, 'data');
  const log = join(dir, 'log');
  live.set(dir, { bin, data, asRoot, reaperId: register({ kind: 'postgres', bin, data, dir, asRoot }) });
  try {
    if (asRoot) {
      const { uid, gid } = postgresIds();
      chownSync(dir, uid, gid);
    }
    await run(bin, 'initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], asRoot);
    const durable = opts.durable ?? false;
    const settings: Record<string, string | number> = {
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      max_connections: 300,
      fsync: durable ? 'on' : 'off',
      full_page_writes: durable ? 'on' : 'off',
      ...opts.settings,
    };
    let port = 0;
    const startOn = async (p: number) => {
      // postgresql.conf is owned by postgres; append through the same user when root.
      const lines = Object.entries({ ...settings, port: p })
        .map(([k, v]) => `${k} = ${v}\n`)
        .join('');
      appendConf(join(data, 'postgresql.conf'), lines);
      await run(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start'], asRoot);
    };
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      try {
        await startOn(port);
        break;
      } catch (err) {
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        if (attempt < 3 && /could not bind|Address already in use/i.test(text)) continue; // port taken meanwhile
        throw new Error(`${(err as Error).message}\n--- server log ---\n${text.slice(-2000)}`, { cause: err });
      }
    }
    const host = '127.0.0.1';
    const base = `postgres://postgres@${host}:${port}`;
    let dbCounter = 0;
    let stopped = false;
    return {
      url: `${base}/postgres`,
      host,
      port,
      dir,
      async createDatabase(name?: string) {
        const db = name ?? `test_${++dbCounter}_${Math.random().toString(36).slice(2, 8)}`;
        if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`database name ${db} must be a lower-case identifier`);
        await adminQuery(`${base}/postgres`, `CREATE DATABASE ${db}`);
        return `${base}/${db}`;
      },
      async kill() {
        await run(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot);
      },
      async restart() {
        await run(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start'], asRoot);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        if (existsSync(join(data, 'postmaster.pid'))) {
          await run(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot).catch(() => {});
        }
        const entry = live.get(dir);
        live.delete(dir);
        rmSync(dir, { recursive: true, force: true });
        if (entry) unregister(entry.reaperId);
      },
    };
  } catch (err) {
    stopSync(dir);
    throw err;
  }
}

function appendConf(file: string, lines: string): void {
  // Root can write the postgres-owned file directly; ownership is unchanged by appending.
  if (existsSync(file)) appendFileSync(file, lines);
  else writeFileSync(file, lines);
}
