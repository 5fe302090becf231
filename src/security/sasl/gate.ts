// The SASL gate in front of the dispatcher: on SASL_PLAINTEXT and SASL_SSL listeners it lets through
// only what Kafka lets through in each state of the connection's SaslSession, and closes the connection
// as Kafka does on anything else (an unauthenticated request, a request after an expired session).
// After a v0 SaslHandshake the tokens are bare size-prefixed frames without a Kafka header: the gate
// answers those itself, with a bare size-prefixed token.
import { ApiKey } from '../../../protocol/index.js';
import type { ConnectionInfo, FrameHandler } from '../../network/server.js';
import { usesSasl } from '../../network/listeners.js';
import { SaslSession, type SaslServerSettings } from './session.js';

type Result = Promise<Buffer[] | null> | Buffer[] | null;

export class SaslGate implements FrameHandler {
  constructor(
    private readonly inner: FrameHandler,
    readonly settings: SaslServerSettings,
  ) {}

  handleFrame(frame: Buffer, conn: ConnectionInfo): Result {
    if (conn.listener === undefined || !usesSasl(conn.listener.securityProtocol)) return this.inner.handleFrame(frame, conn);
    const session = (conn.sasl ??= new SaslSession(this.settings));
    const busy = session.busy;
    if (busy !== undefined) return busy.then(() => this.handleFrame(frame, conn));
    return this.admit(frame, conn, session);
  }

  private reject(conn: ConnectionInfo, why: string, fields: Record<string, unknown> = {}): null {
    this.settings.log.info({ conn: conn.id, remote: `${conn.remoteAddress}:${conn.remotePort}`, listener: conn.listener?.name, ...fields }, `${why}, closing connection`);
    if (conn.sasl !== undefined) conn.sasl.state = { kind: 'failed' };
    conn.closeAfterResponses?.();
    return null;
  }

  private track(session: SaslSession, result: Result): Result {
    if (!(result instanceof Promise)) return result;
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    session.busy = done;
    void done.then(() => {
      if (session.busy === done) session.busy = undefined;
    });
    return result;
  }

  private admit(frame: Buffer, conn: ConnectionInfo, session: SaslSession): Result {
    const st = session.state;
    if (st.kind === 'failed') return null; // closing: what follows a failure is not read
    if (st.kind === 'authenticating' && st.raw) return this.track(session, this.rawToken(frame, conn, session));
    if (frame.length < 8) return this.reject(conn, 'frame too short for a request header');
    const apiKey = frame.readInt16BE(0);
    switch (st.kind) {
      case 'awaiting-handshake':
        if (apiKey === ApiKey.ApiVersions || apiKey === ApiKey.SaslHandshake) return this.inner.handleFrame(frame, conn);
        return this.reject(conn, 'unexpected request before SASL authentication', { apiKey });
      case 'authenticating':
        if (apiKey === ApiKey.SaslAuthenticate) return this.track(session, this.inner.handleFrame(frame, conn));
        // During a re-authentication the session's requests go on (until it expires).
        if (st.previous !== undefined && !session.expired()) return this.inner.handleFrame(frame, conn);
        return this.reject(conn, 'unexpected request during SASL authentication', { apiKey });
      case 'authenticated':
        if (session.expired() && apiKey !== ApiKey.SaslHandshake) {
          return this.reject(conn, 'SASL session expired (connections.max.reauth.ms) and the client did not re-authenticate', { apiKey, principal: st.principal });
        }
        return this.inner.handleFrame(frame, conn);
    }
  }

  /** A bare token after a v0 handshake: answered with a bare token; a failure closes without answer (v0 has no error). */
  private async rawToken(frame: Buffer, conn: ConnectionInfo, session: SaslSession): Promise<Buffer[] | null> {
    const outcome = await session.authenticate(frame, conn);
    if (!outcome.ok) {
      conn.closeAfterResponses?.();
      return null;
    }
    const size = Buffer.alloc(4);
    size.writeInt32BE(outcome.response.length);
    return [size, outcome.response];
  }
}
