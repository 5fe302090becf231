// DeleteGroups: removes Empty groups with their committed offsets (NON_EMPTY_GROUP while members are
// in it, GROUP_ID_NOT_FOUND for unknown groups).
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { AclOperation, allowedGroup } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const results = await Promise.all(
      req.groupsNames.map(async (groupId) => ({
        groupId,
        errorCode: allowedGroup(ctx, AclOperation.DELETE, groupId) ? await ctx.broker.groups.deleteGroup(groupId) : ErrorCode.GROUP_AUTHORIZATION_FAILED,
      })),
    );
    return { throttleTimeMs: 0, results };
  },
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: req.groupsNames.map((groupId) => ({ groupId, errorCode })) };
  },
});
