// The client side of SASL (PLAIN, SCRAM-SHA-256/512) and TLS for our own tools (the admin commands'
// --bootstrap-server): a connection is opened with TLS when the protocol says so, then authenticated
// with SaslHandshake v1 and SaslAuthenticate v1 before its first request.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApiKey, ErrorCode, errorName, type ApiKeyValue, type ApiRequestInput, type ApiResponse } from '../../../protocol/index.js';
import { SECURITY_PROTOCOLS, type SecurityProtocol } from '../../network/listeners.js';
import { equalBytes, hash, hmac, keysFromSalted, saltedPassword, type ScramMechanism } from '../scram.js';
import { isSaslMechanism, type SaslMechanism } from './mechanisms.js';

export interface ClientSecurity {
  protocol: SecurityProtocol;
  /** PEM CA bundle for the broker's certificate (default: the system's). */
  caFile?: string;
  mechanism?: SaslMechanism;
  username?: string;
  password?: string;
}

interface Requester {
  request<K extends ApiKeyValue>(apiKey: K, apiVersion: number, body: ApiRequestInput<K>): Promise<ApiResponse<K>>;
}

/** Checks and completes command-line security options; undefined = PLAINTEXT. */
export function clientSecurity(opts: { securityProtocol?: string; saslMechanism?: string; saslUsername?: string; saslPassword?: string; sslCaFile?: string }, env: NodeJS.ProcessEnv = process.env): ClientSecurity | undefined {
  const protocol = (opts.securityProtocol ?? 'PLAINTEXT').toUpperCase();
  if (!(SECURITY_PROTOCOLS as readonly string[]).includes(protocol)) throw new Error(`--security-protocol must be one of ${SECURITY_PROTOCOLS.join(', ')}`);
  if (protocol === 'PLAINTEXT') return undefined;
  const sec: ClientSecurity = { protocol: protocol as SecurityProtocol, caFile: opts.sslCaFile };
  if (protocol.startsWith('SASL_')) {
    const mechanism = (opts.saslMechanism ?? 'SCRAM-SHA-512').toUpperCase();
    if (!isSaslMechanism(mechanism)) throw new Error('--sasl-mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512');
    const password = opts.saslPassword ?? env.STREAMHOUSE_SASL_PASSWORD;
    if (!opts.saslUsername || password === undefined) throw new Error('SASL needs --sasl-username and --sasl-password (or STREAMHOUSE_SASL_PASSWORD)');
    Object.assign(sec, { mechanism, username: opts.saslUsername, password });
  }
  return sec;
}

export function tlsOptions(sec: ClientSecurity, host: string): { ca?: Buffer; servername?: string } {
  return { ca: sec.caFile ? readFileSync(sec.caFile) : undefined, servername: /^[\d.]+$|:/.test(host) ? undefined : host };
}

function fail(res: { errorCode: number; errorMessage?: string | null }): never {
  throw new Error(`SASL authentication failed: ${res.errorMessage ?? errorName(res.errorCode as never)}`);
}

export async function authenticate(conn: Requester, sec: ClientSecurity): Promise<void> {
  const mechanism = sec.mechanism!;
  const hs = await conn.request(ApiKey.SaslHandshake, 1, { mechanism });
  if (hs.errorCode !== ErrorCode.NONE) throw new Error(`SASL handshake failed: ${errorName(hs.errorCode as never)} (broker mechanisms: ${hs.mechanisms.join(', ')})`);
  const step = async (bytes: Buffer) => {
    const res = await conn.request(ApiKey.SaslAuthenticate, 1, { authBytes: bytes });
    if (res.errorCode !== ErrorCode.NONE) fail(res);
    return res.authBytes;
  };
  if (mechanism === 'PLAIN') {
    await step(Buffer.from(`\u0000${sec.username}\u0000${sec.password}`, 'utf8'));
    return;
  }
  const m = mechanism as ScramMechanism;
  const user = sec.username!.replace(/=/g, '=3D').replace(/,/g, '=2C');
  const bare = `n=${user},r=${randomBytes(18).toString('base64')}`;
  const serverFirst = (await step(Buffer.from(`n,,${bare}`))).toString('utf8');
  const attrs = new Map(serverFirst.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as [string, string]));
  const salted = saltedPassword(m, sec.password!, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')));
  const withoutProof = `c=biws,r=${attrs.get('r')}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const clientKey = hmac(m, salted, 'Client Key');
  const signature = hmac(m, hash(m, clientKey), authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  const serverFinal = (await step(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`))).toString('utf8');
  const expected = hmac(m, keysFromSalted(m, salted).serverKey, authMessage);
  if (!serverFinal.startsWith('v=') || !equalBytes(Buffer.from(serverFinal.slice(2), 'base64'), expected)) throw new Error('SASL authentication failed: the broker did not prove it knows the credential');
}
