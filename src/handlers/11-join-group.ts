// JoinGroup: a member joins (or rejoins) a classic group and waits for the join phase to end. v4+ first
// joins get MEMBER_ID_REQUIRED with their id; v5+ carry group.instance.id (static membership); v7+
// answer with the protocol type; v0 has no rebalance timeout (the session timeout bounds the join).
import { ApiKey, ErrorCode, type JoinGroupResponse } from '../../protocol/index.js';
import type { JoinResult } from '../coordinator/index.js';
import { clientHost, clientId } from '../coordinator/client.js';
import { AclOperation, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';

function response(r: JoinResult, version: number): JoinGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // Not nullable before v7.
    protocolName: version >= 7 ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leader,
    skipAssignment: r.skipAssignment,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export const handler = defineHandler({
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  async handle(req, ctx) {
    if (!allowedGroup(ctx, AclOperation.READ, req.groupId)) return response({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: '', members: [], skipAssignment: false }, ctx.apiVersion);
    const v = ctx.apiVersion;
    const result = await ctx.broker.groups.joinGroup({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: v >= 5 ? (req.groupInstanceId ?? null) : null,
      clientId: clientId(ctx),
      clientHost: clientHost(ctx),
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: v >= 1 && req.rebalanceTimeoutMs !== undefined && req.rebalanceTimeoutMs >= 0 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      // Copies: the request frame is not kept alive by a long-lived member.
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      requireKnownMemberId: v >= 4,
      reason: req.reason ?? null,
    });
    return response(result, v);
  },
  errorResponse(req, errorCode, ctx) {
    return response(
      { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: req.memberId, members: [], skipAssignment: false },
      ctx.apiVersion,
    );
  },
});
