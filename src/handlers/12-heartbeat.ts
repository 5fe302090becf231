// Heartbeat: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { AclOperation, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  async handle(req, ctx) {
    if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const errorCode = await ctx.broker.groups.heartbeat({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: ctx.apiVersion >= 3 ? (req.groupInstanceId ?? null) : null,
      generationId: req.generationId,
    });
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
});
