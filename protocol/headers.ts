// Request header v0–v2 and response header v0–v1. Which header version goes with an API version
// follows from the API's flexibleVersions: flexible versions use request header v2 / response
// header v1. ApiVersions responses always use header v0, because a client that sent a version we
// do not know must still be able to read our answer (KIP-511).
import { compileMessage, readStruct, writeStruct } from './codec.js';
import { API_INFO, ApiKey, type ApiInfo, type ApiKeyValue } from './generated/index.js';
import { RequestHeaderSchema, type RequestHeader } from './generated/messages/request-header.js';
import { ResponseHeaderSchema, type ResponseHeader } from './generated/messages/response-header.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';
import { DecodeError } from './varint.js';

/** API metadata for a key; DecodeError 'unknown_api' when we have no schema for it. */
export function apiInfo(apiKey: number): ApiInfo {
  const info = (API_INFO as Partial<Record<number, ApiInfo>>)[apiKey];
  if (info === undefined) throw new DecodeError('unknown_api', `unknown api key ${apiKey}`);
  return info;
}

export function isFlexible(apiKey: number, apiVersion: number): boolean {
  const from = apiInfo(apiKey).flexibleFrom;
  return from !== null && apiVersion >= from;
}

/**
 * Request header version for an API version: 2 when flexible, else 1. Also defined for versions
 * outside validVersions, so a request at an unsupported version can still be parsed and answered.
 */
export function requestHeaderVersion(apiKey: number, apiVersion: number): 1 | 2 {
  return isFlexible(apiKey, apiVersion) ? 2 : 1;
}

/** Response header version: 1 when flexible, else 0; ApiVersions is always 0. */
export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(apiKey, apiVersion) ? 1 : 0;
}

export function readRequestHeader(r: Reader, headerVersion: number): RequestHeader {
  return readStruct(r, compileMessage(RequestHeaderSchema, headerVersion)) as unknown as RequestHeader;
}

export function writeRequestHeader(w: Writer, headerVersion: number, header: RequestHeader): void {
  writeStruct(w, compileMessage(RequestHeaderSchema, headerVersion), header as unknown as Record<string, unknown>);
}

export function readResponseHeader(r: Reader, headerVersion: number): ResponseHeader {
  return readStruct(r, compileMessage(ResponseHeaderSchema, headerVersion)) as unknown as ResponseHeader;
}

export function writeResponseHeader(w: Writer, headerVersion: number, correlationId: number): void {
  w.int32(correlationId);
  if (headerVersion >= 1) w.uvarint(0); // empty tagged-field section
}

export type { ApiKeyValue, RequestHeader, ResponseHeader };
