// LeaveGroup: members leave (the group rebalances without them). v0–2 carry one member id and answer
// with its error at the top level; v3+ carry a batch (possibly by group.instance.id alone) and answer
// per member.
import { ApiKey, ErrorCode, type ErrorCodeValue, type LeaveGroupRequest } from '../../protocol/index.js';
import type { LeaveMember } from '../coordinator/index.js';
import { AclOperation, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';

function membersOf(req: LeaveGroupRequest, version: number): LeaveMember[] {
  if (version >= 3) return (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null }));
  return [{ memberId: req.memberId ?? '', groupInstanceId: null }];
}

export const handler = defineHandler({
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const v = ctx.apiVersion;
    const result = await ctx.broker.groups.leaveGroup(req.groupId, membersOf(req, v));
    if (v >= 3) return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
    let errorCode: ErrorCodeValue = result.errorCode;
    if (errorCode === ErrorCode.NONE) errorCode = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
});
