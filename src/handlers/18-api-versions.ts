// ApiVersions: the advertised version range of every handler in the registry, so advertised ranges
// always equal implemented ones. v3+ clients name their software; Kafka answers INVALID_REQUEST
// when the name or version has characters outside [a-zA-Z0-9.-].
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { defineHandler, type Handler } from './types.js';

const SOFTWARE = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

export function apiVersionsHandler(registry: () => readonly Handler[]) {
  const table = () =>
    [...registry()]
      .sort((a, b) => a.apiKey - b.apiKey)
      .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion }));
  return defineHandler({
    apiKey: ApiKey.ApiVersions,
    minVersion: 0,
    maxVersion: 4,
    handle(req, ctx) {
      if (ctx.apiVersion >= 3 && (!SOFTWARE.test(req.clientSoftwareName ?? '') || !SOFTWARE.test(req.clientSoftwareVersion ?? ''))) {
        return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
      }
      return { errorCode: ErrorCode.NONE, apiKeys: table(), throttleTimeMs: 0 };
    },
    errorResponse(_req, errorCode) {
      return { errorCode, apiKeys: [], throttleTimeMs: 0 };
    },
  });
}
