// SyncGroup: the leader hands in the assignment of the generation; every member gets its own share
// once it is stored (followers that arrive first wait). v5+ must name the protocol type and name.
import { ApiKey, ErrorCode, type SyncGroupResponse } from '../../protocol/index.js';
import type { SyncResult } from '../coordinator/index.js';
import { AclOperation, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';

function response(r: SyncResult): SyncGroupResponse {
  return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
}

export const handler = defineHandler({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return response({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    const v = ctx.apiVersion;
    const protocolType = v >= 5 ? (req.protocolType ?? null) : null;
    const protocolName = v >= 5 ? (req.protocolName ?? null) : null;
    if (v >= 5 && (protocolType === null || protocolName === null)) {
      return response({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    }
    const result = await ctx.broker.groups.syncGroup({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: v >= 3 ? (req.groupInstanceId ?? null) : null,
      generationId: req.generationId,
      protocolType,
      protocolName,
      assignments: new Map(req.assignments.map((a) => [a.memberId, Buffer.from(a.assignment)])),
    });
    return response(result);
  },
  errorResponse(_req, errorCode) {
    return response({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
  },
});
