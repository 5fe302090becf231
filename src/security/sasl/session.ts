// The SASL state of one connection on a SASL listener, as Kafka's SaslServerAuthenticator:
//
//   awaiting-handshake --SaslHandshake(mech)--> authenticating --SaslAuthenticate*--> authenticated
//        (ApiVersions allowed)                 (only SaslAuthenticate; after a v0       |   ^
//                                               handshake, raw tokens without headers)   |   | SaslHandshake (re-authentication,
//                                                                                        v   | KIP-368) then SaslAuthenticate
//   any failure --> failed (the failure response is sent, then the connection closes)
//
// Once authenticated with connections.max.reauth.ms > 0 the session expires: the first request after
// that which does not start a re-authentication closes the connection. Time is injected.
import { ErrorCode, type ErrorCodeValue } from '../../../protocol/index.js';
import type { Logger } from '../../logger.js';
import type { ConnectionInfo } from '../../network/server.js';
import type { CredentialLookup } from '../credentials.js';
import { userPrincipal, type KafkaPrincipal } from '../principal.js';
import { AuthenticationFailure, MAX_TOKEN_BYTES, isSaslMechanism, startExchange, type SaslExchange, type SaslMechanism } from './mechanisms.js';

export interface SaslServerSettings {
  /** sasl.enabled.mechanisms, in the order answered to SaslHandshake. */
  readonly mechanisms: readonly SaslMechanism[];
  readonly credentials: CredentialLookup;
  /** connections.max.reauth.ms (0 = sessions do not expire). */
  readonly reauthMs: number;
  readonly failures: FailedAuthentications;
  readonly now: () => number;
  readonly log: Logger;
  /** Each finished authentication (metrics). */
  readonly onAuthentication?: (listener: string, mechanism: string, ok: boolean) => void;
}

export type SaslState =
  | { kind: 'awaiting-handshake' }
  | {
      kind: 'authenticating';
      exchange: SaslExchange;
      /** After a v0 handshake: tokens come as bare size-prefixed frames. */
      raw: boolean;
      /** Re-authentication of an authenticated session (KIP-368): what it was. */
      previous?: { principal: KafkaPrincipal; mechanism: SaslMechanism; expiresAt: number | undefined };
    }
  | { kind: 'authenticated'; principal: KafkaPrincipal; mechanism: SaslMechanism; expiresAt: number | undefined }
  | { kind: 'failed' };

export type AuthenticateOutcome =
  | { ok: true; done: boolean; response: Buffer; sessionLifetimeMs: number }
  | { ok: false; errorCode: ErrorCodeValue; errorMessage: string };

export class SaslSession {
  state: SaslState = { kind: 'awaiting-handshake' };
  /** An authentication step in progress: later frames wait for it (responses stay in order anyway). */
  busy: Promise<unknown> | undefined;

  constructor(readonly settings: SaslServerSettings) {}

  get enabledMechanisms(): string[] {
    return [...this.settings.mechanisms];
  }

  expired(now = this.settings.now()): boolean {
    const st = this.state;
    const expiresAt = st.kind === 'authenticated' ? st.expiresAt : st.kind === 'authenticating' ? st.previous?.expiresAt : undefined;
    return expiresAt !== undefined && now >= expiresAt;
  }

  /** SaslHandshake: NONE, UNSUPPORTED_SASL_MECHANISM or ILLEGAL_SASL_STATE (the latter two close the connection). */
  handshake(mechanism: string, version: number): ErrorCodeValue {
    const st = this.state;
    if (!isSaslMechanism(mechanism) || !this.settings.mechanisms.includes(mechanism)) {
      this.state = { kind: 'failed' };
      return ErrorCode.UNSUPPORTED_SASL_MECHANISM;
    }
    if (st.kind === 'awaiting-handshake') {
      this.state = { kind: 'authenticating', exchange: startExchange(mechanism, this.settings.credentials), raw: version === 0 };
      return ErrorCode.NONE;
    }
    // Re-authentication: v1 only (SaslAuthenticate carries it), same mechanism as the session's.
    if (st.kind === 'authenticated' && version >= 1 && mechanism === st.mechanism) {
      this.state = { kind: 'authenticating', exchange: startExchange(mechanism, this.settings.credentials), raw: false, previous: st };
      return ErrorCode.NONE;
    }
    this.state = { kind: 'failed' };
    return ErrorCode.ILLEGAL_SASL_STATE;
  }

  /** One SaslAuthenticate (or raw) token. A failure is logged and delayed before it is answered. */
  async authenticate(token: Buffer, conn: ConnectionInfo): Promise<AuthenticateOutcome> {
    const st = this.state;
    if (st.kind !== 'authenticating') {
      this.state = { kind: 'failed' };
      return { ok: false, errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: `Unexpected SaslAuthenticate request in state ${st.kind}` };
    }
    try {
      if (token.length > MAX_TOKEN_BYTES) throw new AuthenticationFailure(`Authentication failed: token of ${token.length} bytes is too large`);
      const r = await st.exchange.step(token);
      if (!r.done) return { ok: true, done: false, response: r.challenge, sessionLifetimeMs: 0 };
      const principal = userPrincipal(r.user);
      if (st.previous !== undefined && st.previous.principal !== principal) {
        throw new AuthenticationFailure(`Cannot change principals during re-authentication from ${st.previous.principal}: ${principal}`, r.user);
      }
      const now = this.settings.now();
      const reauthMs = this.settings.reauthMs;
      this.state = { kind: 'authenticated', principal, mechanism: st.exchange.mechanism, expiresAt: reauthMs > 0 ? now + reauthMs : undefined };
      conn.principal = principal;
      this.settings.onAuthentication?.(conn.listener?.name ?? '', st.exchange.mechanism, true);
      return { ok: true, done: true, response: r.response, sessionLifetimeMs: reauthMs };
    } catch (err) {
      this.state = { kind: 'failed' };
      this.settings.onAuthentication?.(conn.listener?.name ?? '', st.exchange.mechanism, false);
      if (!(err instanceof AuthenticationFailure)) {
        this.settings.log.error({ err, conn: conn.id }, 'authentication failed unexpectedly');
        return { ok: false, errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'Authentication failed: internal error' };
      }
      await this.settings.failures.failed(conn, st.exchange.mechanism, err);
      return { ok: false, errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: err.message };
    }
  }
}

/**
 * Failed authentications: logged with the client's address (at most `maxLogsPerSecond` lines, the rest
 * counted), and answered only after `delayMs` (connection.failed.authentication.delay.ms) so that
 * guessing passwords is slow; at most `maxDelayed` failures wait at once, more are answered at once
 * (the delay must not become a way to hold memory and sockets).
 */
export class FailedAuthentications {
  private delayed = 0;
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;
  /** Failures so far (tests and metrics read it). */
  count = 0;

  constructor(
    private readonly log: Logger,
    readonly delayMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxDelayed = 1000,
    private readonly maxLogsPerSecond = 20,
  ) {}

  async failed(conn: ConnectionInfo, mechanism: string, err: AuthenticationFailure): Promise<void> {
    this.count++;
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, 'more failed authentications were not logged');
      this.windowStart = now;
      this.logged = 0;
      this.suppressed = 0;
    }
    if (this.logged < this.maxLogsPerSecond) {
      this.logged++;
      this.log.warn(
        { remote: `${conn.remoteAddress}:${conn.remotePort}`, listener: conn.listener?.name, mechanism, user: err.user, conn: conn.id, reason: err.message },
        `Failed authentication with /${conn.remoteAddress}`,
      );
    } else this.suppressed++;
    if (this.delayMs <= 0 || this.delayed >= this.maxDelayed) return;
    this.delayed++;
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
    } finally {
      this.delayed--;
    }
  }
}
