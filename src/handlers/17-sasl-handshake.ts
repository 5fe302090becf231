// SaslHandshake (v0–1): the client names a mechanism; the answer lists the enabled ones. v0 is followed
// by bare tokens, v1 by SaslAuthenticate requests (src/security/sasl/gate.ts routes both). An
// unsupported mechanism or a handshake out of turn is answered, then the connection closes, as in Kafka.
// On a listener without SASL there is nothing to hand-shake: ILLEGAL_SASL_STATE.
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  handle(req, ctx) {
    const session = ctx.conn.sasl;
    if (session === undefined) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    const errorCode = session.handshake(req.mechanism, ctx.apiVersion);
    if (errorCode !== ErrorCode.NONE) ctx.conn.closeAfterResponses?.();
    return { errorCode, mechanisms: session.enabledMechanisms };
  },
  errorResponse(_req, errorCode) {
    return { errorCode, mechanisms: [] };
  },
});
