// The user_credentials table (metadata/schema.ts): SASL credentials shared by every agent. Each
// authentication reads the user's rows (one indexed query), so a credential created, changed or
// deleted on any agent or by `streamhouse users` applies to the next login everywhere at once, with no
// cache to expire or notification to miss. Bytes travel as hex text, which both drivers pass unchanged.
import { statement, type Queryable } from '../../metadata/driver.js';
import type { CredentialMechanism, StoredCredential } from './scram.js';

export const MAX_USER_NAME_LENGTH = 255;

const COLS = `user_name AS "user", mechanism, encode(salt, 'hex') AS salt, iterations,
  encode(stored_key, 'hex') AS "storedKey", encode(server_key, 'hex') AS "serverKey"`;
const NOW_MS = `(floor(extract(epoch from now()) * 1000))::bigint`;

const S = {
  byUser: statement('sh_credentials_by_user', `SELECT ${COLS} FROM user_credentials WHERE user_name = $1 ORDER BY mechanism`, { idempotent: true }),
  all: statement('sh_credentials_all', `SELECT ${COLS} FROM user_credentials ORDER BY user_name, mechanism`, { idempotent: true }),
  upsert: statement(
    'sh_credentials_upsert',
    `INSERT INTO user_credentials (user_name, mechanism, salt, iterations, stored_key, server_key, updated_at)
     VALUES ($1, $2, decode($3, 'hex'), $4, decode($5, 'hex'), decode($6, 'hex'), ${NOW_MS})
     ON CONFLICT (user_name, mechanism) DO UPDATE SET salt = EXCLUDED.salt, iterations = EXCLUDED.iterations,
       stored_key = EXCLUDED.stored_key, server_key = EXCLUDED.server_key, updated_at = EXCLUDED.updated_at`,
    { idempotent: true },
  ),
  delete: statement('sh_credentials_delete', `DELETE FROM user_credentials WHERE user_name = $1 AND mechanism = $2 RETURNING 1 AS ok`, { idempotent: true }),
  deleteUser: statement('sh_credentials_delete_user', `DELETE FROM user_credentials WHERE user_name = $1 RETURNING mechanism`, { idempotent: true }),
};

interface Row {
  user: string;
  mechanism: CredentialMechanism;
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

const fromRow = (r: Row): StoredCredential => ({
  user: r.user,
  mechanism: r.mechanism,
  salt: Buffer.from(r.salt, 'hex'),
  iterations: r.iterations,
  storedKey: Buffer.from(r.storedKey, 'hex'),
  serverKey: Buffer.from(r.serverKey, 'hex'),
});

export interface CredentialLookup {
  credentials(user: string): Promise<StoredCredential[]>;
}

export class CredentialStore implements CredentialLookup {
  constructor(private readonly db: Queryable) {}

  async credentials(user: string): Promise<StoredCredential[]> {
    if (user.length === 0 || user.length > MAX_USER_NAME_LENGTH) return [];
    return (await this.db.query<Row>(S.byUser, [user])).map(fromRow);
  }

  async list(): Promise<StoredCredential[]> {
    return (await this.db.query<Row>(S.all)).map(fromRow);
  }

  async upsert(c: StoredCredential): Promise<void> {
    const problem = checkUserName(c.user);
    if (problem !== undefined) throw new Error(problem);
    await this.db.query(S.upsert, [c.user, c.mechanism, c.salt.toString('hex'), c.iterations, c.storedKey.toString('hex'), c.serverKey.toString('hex')]);
  }

  /** True when the row existed. */
  async delete(user: string, mechanism: CredentialMechanism): Promise<boolean> {
    return (await this.db.query(S.delete, [user, mechanism])).length > 0;
  }

  /** Every mechanism of a user; returns the mechanisms deleted. */
  async deleteUser(user: string): Promise<string[]> {
    return (await this.db.query<{ mechanism: string }>(S.deleteUser, [user])).map((r) => r.mechanism);
  }
}

/** Kafka refuses empty user names; we also bound their length (they are principals and row keys). */
export function checkUserName(user: string): string | undefined {
  if (user.length === 0) return 'Username must not be empty';
  if (user.length > MAX_USER_NAME_LENGTH) return `Username must be at most ${MAX_USER_NAME_LENGTH} characters`;
  return undefined;
}
