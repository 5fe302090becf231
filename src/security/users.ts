// `streamhouse users create|list|delete`: SASL users written straight into the metadata database
// (PostgreSQL by URL, or the embedded PGlite of a stopped agent's data directory), so that the first
// administrator exists before any client can log in. Migrations run first, so this works on a
// database no agent has started on yet. Passwords come from --password, STREAMHOUSE_USER_PASSWORD
// or standard input (--password-stdin), never from a file the command writes.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openMetadataStore } from '../../metadata/index.js';
import { SqlMetadataStore } from '../../metadata/sql-store.js';
import { AdminError } from '../admin/errors.js';
import { chooseTarget } from '../admin/target.js';
import { acquireDataDirLock, DataDirInUseError } from '../data-dir-lock.js';
import { CredentialStore, checkUserName } from './credentials.js';
import { CREDENTIAL_MECHANISMS, MAX_ITERATIONS, MIN_ITERATIONS, plainCredential, scramCredential, type CredentialMechanism } from './scram.js';

export interface UsersTarget {
  databaseUrl?: string;
  dataDir?: string;
}

export async function withCredentialStore<T>(where: UsersTarget, fn: (store: CredentialStore) => Promise<T>): Promise<T> {
  const t = chooseTarget(where);
  if (t.kind === 'broker') throw new AdminError('users works on the metadata database: give --database-url or --data-dir', 2);
  if (t.kind === 'postgres') {
    const sql = (await openMetadataStore({ databaseUrl: t.value, dataDir: '.', pool: { max: 2 } })) as SqlMetadataStore;
    try {
      return await fn(new CredentialStore(sql.driver));
    } finally {
      await sql.close();
    }
  }
  const dir = resolve(t.value);
  await mkdir(dir, { recursive: true });
  let lock;
  try {
    lock = await acquireDataDirLock(dir);
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      throw new AdminError(`the embedded database in ${dir} is locked by a running agent (process ${err.pid}): PGlite serves one process at a time; stop it, or use AlterUserScramCredentials through the agent`);
    }
    throw err;
  }
  try {
    const sql = (await openMetadataStore({ dataDir: dir })) as SqlMetadataStore;
    try {
      return await fn(new CredentialStore(sql.driver));
    } finally {
      await sql.close();
    }
  } finally {
    await lock.release();
  }
}

export function parseMechanisms(text: string): CredentialMechanism[] {
  const list = text.split(',').map((m) => m.trim().toUpperCase()).filter((m) => m !== '');
  if (list.length === 0) throw new AdminError('--mechanism needs at least one of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN', 2);
  for (const m of list) if (!(CREDENTIAL_MECHANISMS as readonly string[]).includes(m)) throw new AdminError(`unknown mechanism "${m}": SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN`, 2);
  return [...new Set(list)] as CredentialMechanism[];
}

/** Creates (or replaces) the user's credentials of each mechanism. */
export async function createUser(store: CredentialStore, user: string, password: string, mechanisms: CredentialMechanism[], iterations: number): Promise<{ user: string; mechanisms: string[] }> {
  const problem = checkUserName(user);
  if (problem !== undefined) throw new AdminError(problem, 2);
  if (password === '') throw new AdminError('the password must not be empty', 2);
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) throw new AdminError(`--iterations must be ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`, 2);
  for (const m of mechanisms) await store.upsert(m === 'PLAIN' ? plainCredential(user, password) : scramCredential(user, m, password, iterations));
  return { user, mechanisms };
}

export async function listUsers(store: CredentialStore): Promise<Array<{ user: string; mechanism: string; iterations: number }>> {
  return (await store.list()).map((c) => ({ user: c.user, mechanism: c.mechanism, iterations: c.iterations }));
}

export function renderUsers(rows: Array<{ user: string; mechanism: string; iterations: number }>): string {
  if (rows.length === 0) return 'no users';
  const w = Math.max(4, ...rows.map((r) => r.user.length));
  return [`${'USER'.padEnd(w)}  MECHANISM      ITERATIONS`, ...rows.map((r) => `${r.user.padEnd(w)}  ${r.mechanism.padEnd(13)}  ${r.iterations}`)].join('\n');
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
