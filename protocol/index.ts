// Public API of protocol/: the Kafka wire format, Buffers in and typed objects out, no I/O.
import { compileMessage, readStruct, writeStruct, type Encodable } from './codec.js';
import {
  API_INFO,
  type ApiKeyValue,
  type ApiRequest,
  type ApiRequestMap,
  type ApiResponse,
} from './generated/index.js';
import {
  ConsumerProtocolAssignmentSchema,
  type ConsumerProtocolAssignment,
} from './generated/messages/consumer-protocol-assignment.js';
import {
  ConsumerProtocolSubscriptionSchema,
  type ConsumerProtocolSubscription,
} from './generated/messages/consumer-protocol-subscription.js';
import type { RequestHeader } from './generated/messages/request-header.js';
import type { ResponseHeader } from './generated/messages/response-header.js';
import {
  apiInfo,
  readRequestHeader,
  readResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  writeRequestHeader,
  writeResponseHeader,
} from './headers.js';
import { Reader } from './reader.js';
import type { MessageSchema } from './schema.js';
import { DecodeError } from './varint.js';
import { Writer } from './writer.js';

export * from './errors.js';
export { DecodeError, type DecodeErrorKind } from './varint.js';
export * from './generated/index.js';
export type { Encodable, BytesInput } from './codec.js';
export type { UnknownTaggedField, MessageSchema, StructSchema, FieldSchema, VersionRange } from './schema.js';
export { FrameDecoder, DEFAULT_MAX_FRAME_BYTES, type FrameDecoderOptions } from './framing.js';
export {
  apiInfo,
  isFlexible,
  requestHeaderVersion,
  responseHeaderVersion,
} from './headers.js';

/** A response body as the encoder accepts it (records/bytes may be Buffer[] chunks). */
export type ApiResponseInput<K extends ApiKeyValue> = Encodable<ApiResponse<K>>;
/** A request body as the encoder accepts it. */
export type ApiRequestInput<K extends ApiKeyValue> = Encodable<ApiRequest<K>>;

/** A decoded request, discriminated by apiKey. */
export type DecodedRequest = {
  [K in ApiKeyValue]: { apiKey: K; apiVersion: number; header: RequestHeader; body: ApiRequestMap[K] };
}[ApiKeyValue];

export function isSupportedVersion(apiKey: number, apiVersion: number): boolean {
  const info = (API_INFO as Partial<Record<number, { validVersions: readonly [number, number] }>>)[apiKey];
  return info !== undefined && apiVersion >= info.validVersions[0] && apiVersion <= info.validVersions[1];
}

function checkVersion(apiKey: number, apiVersion: number): MessageSchema[] {
  const info = apiInfo(apiKey);
  if (apiVersion < info.validVersions[0] || apiVersion > info.validVersions[1]) {
    throw new DecodeError(
      'unsupported_version',
      `${info.name} v${apiVersion} is outside ${info.validVersions[0]}-${info.validVersions[1]}`,
    );
  }
  return [info.requestSchema, info.responseSchema];
}

/**
 * Decodes the request header of a frame (the bytes after the 4-byte size). Works for versions
 * outside validVersions of a known API so the caller can still answer UNSUPPORTED_VERSION.
 */
export function decodeRequestHeader(frame: Buffer): { header: RequestHeader; bodyOffset: number } {
  const r = new Reader(frame);
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const hv = requestHeaderVersion(apiKey, apiVersion); // throws 'unknown_api'
  r.pos = 0;
  const header = readRequestHeader(r, hv);
  return { header, bodyOffset: r.pos };
}

/**
 * Decodes a request body. Bytes after the body are ignored, as Kafka's request parser does (current
 * librdkafka leaves three zero bytes after an all-topics Metadata request); `onTrailingBytes` hears
 * of them.
 */
export function decodeRequestBody<K extends ApiKeyValue>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  bodyOffset: number,
  onTrailingBytes?: (count: number, schemaName: string) => void,
): ApiRequest<K> {
  const [schema] = checkVersion(apiKey, apiVersion);
  const r = new Reader(frame, bodyOffset);
  const body = readStruct(r, compileMessage(schema, apiVersion));
  if (r.pos !== frame.length && onTrailingBytes !== undefined) onTrailingBytes(frame.length - r.pos, schema.name);
  return body as unknown as ApiRequest<K>;
}

/** Header and body of a request frame. */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const { header, bodyOffset } = decodeRequestHeader(frame);
  const apiKey = header.requestApiKey as ApiKeyValue;
  const body = decodeRequestBody(apiKey, header.requestApiVersion, frame, bodyOffset);
  return { apiKey, apiVersion: header.requestApiVersion, header, body } as DecodedRequest;
}

/** Writes the 4-byte size placeholder; returns a function that fills it in. */
function sizePrefix(w: Writer): () => void {
  w.ensure(4);
  const buf = w.buf;
  const at = w.pos;
  w.int32(0);
  const start = w.length;
  return () => {
    buf.writeInt32BE(w.length - start, at);
  };
}

/** Encodes a response frame (size prefix, header, body) as chunks for a vectored write. */
export function encodeResponse<K extends ApiKeyValue>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ApiResponseInput<K>,
): Buffer[] {
  const [, schema] = checkVersion(apiKey, apiVersion);
  const w = new Writer();
  const done = sizePrefix(w);
  writeResponseHeader(w, responseHeaderVersion(apiKey, apiVersion), correlationId);
  writeStruct(w, compileMessage(schema, apiVersion), body as unknown as Record<string, unknown>);
  done();
  return w.finish();
}

/** Encodes a request frame (size prefix, header, body): for tests, the load generator, clients. */
export function encodeRequest<K extends ApiKeyValue>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: ApiRequestInput<K>,
): Buffer[] {
  const [schema] = checkVersion(apiKey, apiVersion);
  const w = new Writer();
  const done = sizePrefix(w);
  writeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), {
    requestApiKey: apiKey,
    requestApiVersion: apiVersion,
    correlationId,
    clientId,
  });
  writeStruct(w, compileMessage(schema, apiVersion), body as unknown as Record<string, unknown>);
  done();
  return w.finish();
}

/** Decodes a response frame (bytes after the size) of a request sent at apiVersion. */
export function decodeResponse<K extends ApiKeyValue>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
): { header: ResponseHeader; body: ApiResponse<K> } {
  const [, schema] = checkVersion(apiKey, apiVersion);
  const r = new Reader(frame);
  const header = readResponseHeader(r, responseHeaderVersion(apiKey, apiVersion));
  const body = readStruct(r, compileMessage(schema, apiVersion));
  if (r.pos !== frame.length) {
    throw new DecodeError('trailing_bytes', `${frame.length - r.pos} bytes after the ${schema.name} v${apiVersion} body`);
  }
  return { header, body: body as unknown as ApiResponse<K> };
}

// ---------------------------------------------------------------------------------------------
// Consumer protocol (the opaque metadata/assignment bytes of JoinGroup/SyncGroup): int16 version,
// then the struct at that version. A newer version than we know is read as our latest, ignoring
// what follows, as Kafka's own ConsumerProtocol does.

function encodeVersioned(schema: MessageSchema, version: number, value: unknown): Buffer {
  if (version < schema.validVersions[0] || version > schema.validVersions[1]) {
    throw new RangeError(`${schema.name} v${version} is outside ${schema.validVersions[0]}-${schema.validVersions[1]}`);
  }
  const w = new Writer();
  w.int16(version);
  writeStruct(w, compileMessage(schema, version), value as Record<string, unknown>);
  const chunks = w.finish();
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function decodeVersioned(schema: MessageSchema, data: Buffer): { version: number; value: unknown } {
  const r = new Reader(data);
  const version = r.int16();
  if (version < 0) throw new DecodeError('unsupported_version', `${schema.name} version ${version}`);
  const value = readStruct(r, compileMessage(schema, Math.min(version, schema.validVersions[1])));
  return { version, value };
}

export function encodeSubscription(subscription: Encodable<ConsumerProtocolSubscription>, version = 3): Buffer {
  return encodeVersioned(ConsumerProtocolSubscriptionSchema, version, subscription);
}

export function decodeSubscription(data: Buffer): { version: number; subscription: ConsumerProtocolSubscription } {
  const { version, value } = decodeVersioned(ConsumerProtocolSubscriptionSchema, data);
  return { version, subscription: value as unknown as ConsumerProtocolSubscription };
}

export function encodeAssignment(assignment: Encodable<ConsumerProtocolAssignment>, version = 3): Buffer {
  return encodeVersioned(ConsumerProtocolAssignmentSchema, version, assignment);
}

export function decodeAssignment(data: Buffer): { version: number; assignment: ConsumerProtocolAssignment } {
  const { version, value } = decodeVersioned(ConsumerProtocolAssignmentSchema, data);
  return { version, assignment: value as unknown as ConsumerProtocolAssignment };
}
