// Server side of the SASL mechanisms: PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677),
// each an exchange of tokens that ends with the authenticated user name or an AuthenticationFailure.
// Failure messages are Kafka's, since clients show them to users.
import { randomBytes } from 'node:crypto';
import type { CredentialLookup } from '../credentials.js';
import { SCRAM_MECHANISMS, equalBytes, hash, hmac, passwordMatches, type ScramMechanism, type StoredCredential } from '../scram.js';

export const SASL_MECHANISMS = ['PLAIN', ...SCRAM_MECHANISMS] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export const isSaslMechanism = (s: string): s is SaslMechanism => (SASL_MECHANISMS as readonly string[]).includes(s);

/** A failed authentication; `message` goes to the client (SaslAuthenticate's error message). */
export class AuthenticationFailure extends Error {
  constructor(
    message: string,
    /** The user the client named, for the log (undefined when it named none). */
    readonly user?: string,
  ) {
    super(message);
    this.name = 'AuthenticationFailure';
  }
}

export type StepResult = { done: false; challenge: Buffer } | { done: true; user: string; response: Buffer };

export interface SaslExchange {
  readonly mechanism: SaslMechanism;
  step(token: Buffer): Promise<StepResult>;
}

/** Longest token accepted: user name, password and nonces are short; a bigger token is an attack. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** `serverNonce`: injected by tests (RFC 7677's example); printable, without ','. */
export function startExchange(mechanism: SaslMechanism, lookup: CredentialLookup, serverNonce = () => randomBytes(24).toString('base64')): SaslExchange {
  return mechanism === 'PLAIN' ? new PlainExchange(lookup) : new ScramExchange(mechanism, lookup, serverNonce);
}

const INVALID_PLAIN = 'Authentication failed: Invalid username or password';

class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN' as const;
  private used = false;

  constructor(private readonly lookup: CredentialLookup) {}

  async step(token: Buffer): Promise<StepResult> {
    if (this.used) throw new AuthenticationFailure('Authentication failed: PLAIN takes one message');
    this.used = true;
    // authzid NUL authcid NUL passwd
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) throw new AuthenticationFailure('Invalid SASL/PLAIN response: expected 3 tokens');
    const [authzid, user, password] = parts as [string, string, string];
    if (user === '') throw new AuthenticationFailure('Authentication failed: username not specified');
    if (password === '') throw new AuthenticationFailure('Authentication failed: password not specified', user);
    if (authzid !== '' && authzid !== user) throw new AuthenticationFailure('Authentication failed: Client requested an authorization id that is different from username', user);
    const creds = await this.lookup.credentials(user);
    // A PLAIN row first (its own hash), else any SCRAM row, recomputed from the password.
    const ordered = [...creds.filter((c) => c.mechanism === 'PLAIN'), ...creds.filter((c) => c.mechanism !== 'PLAIN')];
    const c = ordered[0];
    if (c === undefined || !(await passwordMatches(c, password))) throw new AuthenticationFailure(INVALID_PLAIN, user);
    return { done: true, user, response: Buffer.alloc(0) };
  }
}

/** RFC 5802 saslname: "=2C" is ',', "=3D" is '=', any other '=' is invalid. */
function decodeSaslName(s: string): string | undefined {
  if (/=(?!2C|3D)/.test(s)) return undefined;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** `k=v` attributes of a SCRAM message, in order. */
function attributes(msg: string): Array<[string, string]> {
  return msg.split(',').map((p) => {
    const i = p.indexOf('=');
    return i > 0 ? [p.slice(0, i), p.slice(i + 1)] : ['', p];
  });
}

class ScramExchange implements SaslExchange {
  private state:
    | { kind: 'first' }
    | { kind: 'final'; user: string; credential: StoredCredential; nonce: string; gs2Header: string; clientFirstBare: string; serverFirst: string }
    | { kind: 'done' } = { kind: 'first' };

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: CredentialLookup,
    private readonly serverNonce: () => string,
  ) {}

  private invalid(user?: string): AuthenticationFailure {
    return new AuthenticationFailure(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism}`, user);
  }

  async step(token: Buffer): Promise<StepResult> {
    const msg = token.toString('utf8');
    const st = this.state;
    if (st.kind === 'first') {
      // gs2-header: n|y (no channel binding over our transport), optional a=authzid.
      const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(msg);
      if (m === null) throw this.invalid();
      const gs2Header = `${m[1]},${m[2] ?? ''},`;
      const clientFirstBare = m[3]!;
      const attrs = attributes(clientFirstBare);
      if (attrs.length < 2 || attrs[0]![0] !== 'n' || attrs[1]![0] !== 'r' || attrs[1]![1] === '') throw this.invalid();
      const user = decodeSaslName(attrs[0]![1]);
      if (user === undefined || user === '') throw this.invalid();
      const authzid = m[2] === undefined ? '' : decodeSaslName(m[2].slice(2));
      if (authzid !== '' && authzid !== user) throw new AuthenticationFailure('Authentication failed: Client requested an authorization id that is different from username', user);
      // Extensions: delegation tokens (tokenauth) are not served.
      for (const [k, v] of attrs.slice(2)) {
        if (k === '') throw this.invalid(user);
        if (k === 'tokenauth' && v === 'true') throw new AuthenticationFailure('Authentication failed: delegation tokens are not supported', user);
      }
      const credential = (await this.lookup.credentials(user)).find((c) => c.mechanism === this.mechanism);
      if (credential === undefined) throw this.invalid(user);
      const nonce = attrs[1]![1] + this.serverNonce();
      const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
      this.state = { kind: 'final', user, credential, nonce, gs2Header, clientFirstBare, serverFirst };
      return { done: false, challenge: Buffer.from(serverFirst, 'utf8') };
    }
    if (st.kind === 'final') {
      this.state = { kind: 'done' };
      const i = msg.lastIndexOf(',p=');
      if (i < 0) throw this.invalid(st.user);
      const withoutProof = msg.slice(0, i);
      const proof = Buffer.from(msg.slice(i + 3), 'base64');
      const attrs = attributes(withoutProof);
      const c = attrs.find(([k]) => k === 'c')?.[1];
      const r = attrs.find(([k]) => k === 'r')?.[1];
      // As Kafka (ScramSaslServer): the nonce must end with ours. librdkafka up to 2.x sends its own
      // nonce in front of the whole nonce, and Kafka accepts it; the proof covers what was sent.
      if (c !== Buffer.from(st.gs2Header, 'utf8').toString('base64') || r === undefined || !r.endsWith(st.nonce)) throw this.invalid(st.user);
      const authMessage = `${st.clientFirstBare},${st.serverFirst},${withoutProof}`;
      const { storedKey, serverKey } = st.credential;
      const clientSignature = hmac(this.mechanism, storedKey, authMessage);
      if (proof.length !== clientSignature.length) throw this.invalid(st.user);
      const clientKey = Buffer.alloc(proof.length);
      for (let j = 0; j < proof.length; j++) clientKey[j] = proof[j]! ^ clientSignature[j]!;
      if (!equalBytes(hash(this.mechanism, clientKey), storedKey)) throw this.invalid(st.user);
      const serverSignature = hmac(this.mechanism, serverKey, authMessage);
      return { done: true, user: st.user, response: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
    }
    throw this.invalid();
  }
}
