// ListGroups: the groups this broker coordinates, with their state (v4+, filterable by state) and type
// (v5+, filterable; every group here is "classic").
import { ApiKey } from '../../protocol/index.js';
import { AclOperation, allowedGroup, allowedOnCluster } from '../security/authorize.js';
import { defineHandler } from './types.js';

export const handler = defineHandler({
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 5,
  async handle(req, ctx) {
    const v = ctx.apiVersion;
    const { errorCode, groups } = await ctx.broker.groups.listGroups(v >= 4 ? (req.statesFilter ?? []) : [], v >= 5 ? (req.typesFilter ?? []) : []);
    // Kafka: every group with DESCRIBE on the cluster, else only those the principal may DESCRIBE.
    if (allowedOnCluster(ctx, AclOperation.DESCRIBE)) return { throttleTimeMs: 0, errorCode, groups };
    return { throttleTimeMs: 0, errorCode, groups: groups.filter((g) => allowedGroup(ctx, AclOperation.DESCRIBE, g.groupId)) };
  },
  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
});
