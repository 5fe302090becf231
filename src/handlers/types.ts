// What a handler module is: one Kafka API, the versions it advertises, how it answers a request, and
// how it reports an error for everything a request asked about. Handlers get a context, never a socket.
import type { ApiKeyValue, ApiRequest, ApiResponseInput, ErrorCodeValue } from '../../protocol/index.js';
import type { RequestHeader } from '../../protocol/generated/messages/request-header.js';
import type { ConnectionInfo } from '../network/server.js';
import type { BrokerContext } from '../context.js';

/** Returned by a handler when the request gets no response at all (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no response');

export interface RequestContext {
  readonly apiVersion: number;
  readonly header: RequestHeader;
  readonly conn: ConnectionInfo;
  readonly broker: BrokerContext;
}

export type HandlerResult<K extends ApiKeyValue> = ApiResponseInput<K> | typeof NO_RESPONSE;

export interface Handler<K extends ApiKeyValue = ApiKeyValue> {
  readonly apiKey: K;
  /** Advertised in ApiVersions. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /**
   * Versions below this are advertised (old librdkafka decides features by whether old versions
   * are listed) but answered with UNSUPPORTED_VERSION through errorResponse.
   */
  readonly minImplementedVersion?: number;
  handle(request: ApiRequest<K>, ctx: RequestContext): Promise<HandlerResult<K>> | HandlerResult<K>;
  /** A response reporting errorCode for every topic/partition/group/resource in the request. */
  errorResponse(request: ApiRequest<K>, errorCode: ErrorCodeValue, ctx: RequestContext): ApiResponseInput<K>;
}

/** Identity helper that checks a handler object against its API's request/response types. */
export function defineHandler<K extends ApiKeyValue>(handler: Handler<K>): Handler<K> {
  return handler;
}
