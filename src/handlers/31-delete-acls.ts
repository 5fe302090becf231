// DeleteAcls: deletes every ACL each filter matches (Kafka's AclApis + AclControlManager): ALTER on the
// cluster needed, SECURITY_DISABLED with the authorizer off, INVALID_REQUEST for a filter with UNKNOWN
// elements. Filters are matched against the database's current set (not this agent's copy), and each
// filter lists the ACLs it matched, as Kafka does, even when another filter of the request matched them
// too. Answered once this agent's authorizer holds the new set.
import { ApiKey, API_INFO, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { filterMatches, filterProblem, type AclBinding } from '../security/acl.js';
import { AclOperation } from '../security/authorize.js';
import { MAX_ACLS_PER_REQUEST, aclRequestRefusal, toFilter } from '../security/acl-requests.js';
import { defineHandler } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.DeleteAcls].validVersions;

const matched = (b: AclBinding) => ({
  errorCode: ErrorCode.NONE as ErrorCodeValue,
  errorMessage: null,
  resourceType: b.resourceType,
  resourceName: b.resourceName,
  patternType: b.patternType,
  principal: b.principal,
  host: b.host,
  operation: b.operation,
  permissionType: b.permissionType,
});

export const handler = defineHandler({
  apiKey: ApiKey.DeleteAcls,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  async handle(req, ctx) {
    const refused = aclRequestRefusal(ctx, AclOperation.ALTER);
    if (refused) {
      return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ ...refused, matchingAcls: [] })) };
    }
    const current = await ctx.broker.metadata.listAcls();
    const toDelete = new Map<string, AclBinding>();
    const perFilter = req.filters.map((raw) => {
      const filter = toFilter(raw);
      const problem = filterProblem(filter);
      if (problem) return { errorCode: ErrorCode.INVALID_REQUEST as ErrorCodeValue, errorMessage: problem, matches: [] as AclBinding[] };
      const matches = current.filter((b) => filterMatches(filter, b));
      for (const b of matches) toDelete.set(JSON.stringify(b), b);
      return { errorCode: ErrorCode.NONE as ErrorCodeValue, errorMessage: null, matches };
    });
    if (toDelete.size > MAX_ACLS_PER_REQUEST) {
      const errorMessage = `Cannot remove more than ${MAX_ACLS_PER_REQUEST} acls in a single delete operation.`;
      return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage, matchingAcls: [] })) };
    }
    let deleted = new Set<string>();
    if (toDelete.size > 0) {
      deleted = new Set((await ctx.broker.metadata.deleteAcls([...toDelete.values()])).map((b) => JSON.stringify(b)));
      await ctx.broker.aclsChanged?.();
      ctx.broker.log.info({ principal: ctx.conn.principal, deleted: deleted.size }, 'ACLs deleted');
    }
    return {
      throttleTimeMs: 0,
      filterResults: perFilter.map((r) => ({
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        // An ACL another request deleted in the meantime is not reported as deleted by this one.
        matchingAcls: r.matches.filter((b) => deleted.has(JSON.stringify(b))).map(matched),
      })),
    };
  },
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage: null, matchingAcls: [] })) };
  },
});
