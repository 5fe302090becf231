// SaslAuthenticate (v0–2): one token of the mechanism chosen by SaslHandshake. A failure answers
// SASL_AUTHENTICATION_FAILED with Kafka's message (after the failed-authentication delay), then the
// connection closes. v1+ tell the client its session lifetime (connections.max.reauth.ms, KIP-368).
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { defineHandler } from './types.js';

const EMPTY = Buffer.alloc(0);

export const handler = defineHandler({
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const session = ctx.conn.sasl;
    if (session === undefined) {
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SASL is not enabled on this listener', authBytes: EMPTY, sessionLifetimeMs: 0 };
    }
    const outcome = await session.authenticate(req.authBytes, ctx.conn);
    if (!outcome.ok) {
      ctx.conn.closeAfterResponses?.();
      return { errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, authBytes: EMPTY, sessionLifetimeMs: 0 };
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: outcome.response, sessionLifetimeMs: outcome.done ? outcome.sessionLifetimeMs : 0 };
  },
  errorResponse(_req, errorCode) {
    return { errorCode, errorMessage: null, authBytes: EMPTY, sessionLifetimeMs: 0 };
  },
});
