// SCRAM (RFC 5802, RFC 7677) credential arithmetic with node:crypto, and the salted hash of PLAIN-only
// users. A stored SCRAM credential is salt, iterations, StoredKey and ServerKey: the password cannot be
// read back from it, yet it checks both a SCRAM proof and (recomputed) a PLAIN password.
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];
export type CredentialMechanism = ScramMechanism | 'PLAIN';
export const CREDENTIAL_MECHANISMS: readonly CredentialMechanism[] = [...SCRAM_MECHANISMS, 'PLAIN'];

/** Kafka's ScramMechanism ids (DescribeUserScramCredentials, AlterUserScramCredentials). */
export const MECHANISM_IDS: Record<ScramMechanism, number> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };
export function mechanismById(id: number): ScramMechanism | undefined {
  return (Object.keys(MECHANISM_IDS) as ScramMechanism[]).find((m) => MECHANISM_IDS[m] === id);
}

/** Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations; AlterUserScramCredentials' maximum). */
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;
/** PLAIN-only users: PBKDF2-HMAC-SHA-512 with this many iterations. */
export const PLAIN_ITERATIONS = 4096;

export interface StoredCredential {
  user: string;
  mechanism: CredentialMechanism;
  salt: Buffer;
  iterations: number;
  /** SCRAM: StoredKey = H(HMAC(SaltedPassword, "Client Key")); PLAIN: the PBKDF2 hash. */
  storedKey: Buffer;
  /** SCRAM: HMAC(SaltedPassword, "Server Key"); PLAIN: empty. */
  serverKey: Buffer;
}

const hashOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');
const lengthOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 32 : 64);

export function hmac(m: ScramMechanism, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hashOf(m), key).update(data).digest();
}
export function hash(m: ScramMechanism, data: Buffer): Buffer {
  return createHash(hashOf(m)).update(data).digest();
}

/** Hi(password, salt, i) of RFC 5802 = PBKDF2 with HMAC of the mechanism's hash. */
export function saltedPassword(m: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, lengthOf(m), hashOf(m));
}

/** StoredKey and ServerKey from a salted password (what AlterUserScramCredentials sends). */
export function keysFromSalted(m: ScramMechanism, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(m, salted, 'Client Key');
  return { storedKey: hash(m, clientKey), serverKey: hmac(m, salted, 'Server Key') };
}

export function scramCredential(user: string, m: ScramMechanism, password: string, iterations = MIN_ITERATIONS, salt: Buffer = randomBytes(32)): StoredCredential {
  return { user, mechanism: m, salt, iterations, ...keysFromSalted(m, saltedPassword(m, password, salt, iterations)) };
}

export function plainCredential(user: string, password: string, salt: Buffer = randomBytes(32)): StoredCredential {
  const storedKey = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, PLAIN_ITERATIONS, 64, 'sha512');
  return { user, mechanism: 'PLAIN', salt, iterations: PLAIN_ITERATIONS, storedKey, serverKey: Buffer.alloc(0) };
}

export function equalBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether `password` matches a stored credential of any mechanism (PLAIN logins). PBKDF2 runs on the
 * thread pool: thousands of iterations per login must not stall the event loop serving everyone else.
 */
export async function passwordMatches(c: StoredCredential, password: string): Promise<boolean> {
  const pw = Buffer.from(password, 'utf8');
  if (c.mechanism === 'PLAIN') return equalBytes(await pbkdf2Async(pw, c.salt, c.iterations, 64, 'sha512'), c.storedKey);
  const salted = await pbkdf2Async(pw, c.salt, c.iterations, lengthOf(c.mechanism), hashOf(c.mechanism));
  return equalBytes(keysFromSalted(c.mechanism, salted).storedKey, c.storedKey);
}
