// DescribeGroups: state, protocol and members (client id, host, and while Stable their subscription
// metadata and assignment bytes) of each group. An unknown group is "Dead" without an error (v0–5).
import { ApiKey, ErrorCode, type DescribeGroupsResponseDescribedGroup } from '../../protocol/index.js';
import { AclOperation, ResourceType, allowedGroup, authorizedOperations as groupOperations } from '../security/authorize.js';
import { defineHandler } from './types.js';

/** READ, DELETE and DESCRIBE (AclOperation codes 3, 6, 8): all a group supports. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);
const NOT_REQUESTED = -2147483648;

export const handler = defineHandler({
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const withOperations = ctx.apiVersion >= 3 && req.includeAuthorizedOperations === true;
    const groups: DescribeGroupsResponseDescribedGroup[] = await Promise.all(
      req.groups.map(async (groupId) => {
        if (!allowedGroup(ctx, AclOperation.DESCRIBE, groupId)) {
          return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED };
        }
        const authorizedOperations = withOperations ? groupOperations(ctx, ResourceType.GROUP, groupId, GROUP_OPERATIONS) : NOT_REQUESTED;
        const d = await ctx.broker.groups.describeGroup(groupId);
        return {
          errorCode: d.errorCode,
          groupId,
          groupState: d.groupState,
          protocolType: d.protocolType,
          protocolData: d.protocolData,
          members: d.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations,
        };
      }),
    );
    return { throttleTimeMs: 0, groups };
  },
  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_REQUESTED })),
    };
  },
});
