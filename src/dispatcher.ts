// Routes each request frame to its handler: decodes the header, checks the version against the
// handler registry, decodes the body, runs the handler and encodes the response. Requests for APIs
// or versions we do not advertise are malformed (the connection closes), except ApiVersions, which
// is answered with UNSUPPORTED_VERSION in a v0 body so the client can retry lower (KIP-511).
import {
  ApiKey,
  DecodeError,
  ErrorCode,
  KafkaError,
  decodeRequestBody,
  decodeRequestHeader,
  encodeResponse,
  type ApiKeyValue,
  type ErrorCodeValue,
} from '../protocol/index.js';
import { performance } from 'node:perf_hooks';
import type { BrokerContext } from './context.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';
import type { FrameHandler, ConnectionInfo } from './network/server.js';
import { NO_RESPONSE, type Handler, type HandlerResult, type RequestContext } from './handlers/types.js';

export class Dispatcher implements FrameHandler {
  private readonly byKey = new Map<number, Handler>();

  constructor(
    handlers: readonly Handler[],
    private readonly broker: BrokerContext,
    /** Requests and their latency per API and version; absent when metrics are off. */
    private readonly metrics?: Pick<AgentMetrics, 'requestDone'>,
  ) {
    for (const h of handlers) {
      if (this.byKey.has(h.apiKey)) throw new Error(`two handlers for api key ${h.apiKey}`);
      this.byKey.set(h.apiKey, h as Handler);
    }
  }

  handleFrame(frame: Buffer, conn: ConnectionInfo): Promise<Buffer[] | null> | Buffer[] | null {
    // An ApiVersions request newer than ours is answered from its first 8 bytes alone: its header
    // and body may have a layout we do not know yet (KIP-511).
    if (frame.length >= 8 && frame.readInt16BE(0) === ApiKey.ApiVersions) {
      const av = this.byKey.get(ApiKey.ApiVersions)!;
      const v = frame.readInt16BE(2);
      if (v < av.minVersion || v > av.maxVersion) {
        return encodeResponse(ApiKey.ApiVersions, 0, frame.readInt32BE(4), {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: av.minVersion, maxVersion: av.maxVersion }],
        });
      }
    }
    const started = this.metrics === undefined ? 0 : performance.now();
    const { header, bodyOffset } = decodeRequestHeader(frame);
    const apiKey = header.requestApiKey as ApiKeyValue;
    const version = header.requestApiVersion;
    const handler = this.byKey.get(apiKey);
    if (handler === undefined) throw new DecodeError('unknown_api', `api key ${apiKey} is not served`);
    if (version < handler.minVersion || version > handler.maxVersion) {
      throw new DecodeError('unsupported_version', `api key ${apiKey} v${version} is not advertised`);
    }
    const body = decodeRequestBody(apiKey, version, frame, bodyOffset, (count, name) =>
      this.broker.log.debug({ conn: conn.id, clientId: header.clientId, count }, `ignoring bytes after the ${name} v${version} body`));
    const ctx: RequestContext = { apiVersion: version, header, conn, broker: this.broker };
    if (handler.minImplementedVersion !== undefined && version < handler.minImplementedVersion) {
      return this.encode(handler, ctx, handler.errorResponse(body, ErrorCode.UNSUPPORTED_VERSION, ctx), started);
    }
    let result: Promise<HandlerResult<ApiKeyValue>> | HandlerResult<ApiKeyValue>;
    try {
      result = handler.handle(body, ctx);
    } catch (err) {
      return this.encode(handler, ctx, this.failure(handler, body, ctx, err), started);
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => this.encode(handler, ctx, r, started),
        (err: unknown) => this.encode(handler, ctx, this.failure(handler, body, ctx, err), started),
      );
    }
    return this.encode(handler, ctx, result, started);
  }

  private failure(handler: Handler, body: unknown, ctx: RequestContext, err: unknown): HandlerResult<ApiKeyValue> {
    let code: ErrorCodeValue = ErrorCode.UNKNOWN_SERVER_ERROR;
    if (err instanceof KafkaError) code = err.code;
    else this.broker.log.error({ err, apiKey: handler.apiKey, apiVersion: ctx.apiVersion }, 'handler failed');
    return handler.errorResponse(body as never, code, ctx);
  }

  private encode(handler: Handler, ctx: RequestContext, result: HandlerResult<ApiKeyValue>, started: number): Buffer[] | null {
    const out = result === NO_RESPONSE ? null : encodeResponse(handler.apiKey, ctx.apiVersion, ctx.header.correlationId, result as never);
    this.metrics?.requestDone(handler.apiKey, ctx.apiVersion, started);
    return out;
  }
}
