// FindCoordinator: which broker coordinates a group (key type 0) or a transactional id (key type 1).
// v0–3 ask for one key; v4+ batch keys in coordinatorKeys and answer per key.
import { ApiKey, ErrorCode, errorName, type ErrorCodeValue, type FindCoordinatorRequest } from '../../protocol/index.js';
import { AclOperation, ResourceType, allowed, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';
import { endpointFor } from '../network/listeners.js';

const NO_NODE = { nodeId: -1, host: '', port: -1 };
const message = (errorCode: ErrorCodeValue) => (errorCode === ErrorCode.NONE ? null : errorName(errorCode));

function keysOf(req: FindCoordinatorRequest, version: number): string[] {
  return version >= 4 ? (req.coordinatorKeys ?? []) : [req.key ?? ''];
}

export const handler = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  async handle(req, ctx) {
    const keyType = ctx.apiVersion >= 1 ? (req.keyType ?? 0) : 0;
    const answers = await Promise.all(
      keysOf(req, ctx.apiVersion).map(async (key) => {
        // Kafka: DESCRIBE on the group, or on the transactional id.
        if (keyType === 0 && !allowedGroup(ctx, AclOperation.DESCRIBE, key)) {
          return { key, ...NO_NODE, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED as ErrorCodeValue, errorMessage: message(ErrorCode.GROUP_AUTHORIZATION_FAILED) };
        }
        if (keyType === 1 && !allowed(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)) {
          return { key, ...NO_NODE, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED as ErrorCodeValue, errorMessage: message(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) };
        }
        const { errorCode, broker } = await ctx.broker.groups.findCoordinator(key, keyType);
        const node = broker ? { nodeId: broker.nodeId, ...endpointFor(broker, ctx.conn.listener?.name) } : NO_NODE;
        return { key, ...node, errorCode, errorMessage: message(errorCode) };
      }),
    );
    if (ctx.apiVersion >= 4) return { throttleTimeMs: 0, coordinators: answers };
    const [a] = answers;
    return { throttleTimeMs: 0, errorCode: a.errorCode, errorMessage: a.errorMessage, nodeId: a.nodeId, host: a.host, port: a.port };
  },
  errorResponse(req, errorCode, ctx) {
    if (ctx.apiVersion >= 4) {
      return { throttleTimeMs: 0, coordinators: keysOf(req, ctx.apiVersion).map((key) => ({ key, ...NO_NODE, errorCode, errorMessage: message(errorCode) })) };
    }
    return { throttleTimeMs: 0, errorCode, errorMessage: message(errorCode), ...NO_NODE };
  },
});
