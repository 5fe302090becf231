// CreateAcls: adds ACL bindings to the metadata database (Kafka's AclApis + AclControlManager): ALTER on
// the cluster needed, SECURITY_DISABLED with the authorizer off, INVALID_REQUEST per invalid binding
// (the others are created). Creating an existing ACL succeeds and changes nothing. Answered once this
// agent's authorizer holds the new set; the other agents load it on the change notification.
import { ApiKey, API_INFO, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { PatternType, newAclProblem, type AclBinding } from '../security/acl.js';
import { AclOperation } from '../security/authorize.js';
import { MAX_ACLS_PER_REQUEST, aclRequestRefusal } from '../security/acl-requests.js';
import { defineHandler } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.CreateAcls].validVersions;

export const handler = defineHandler({
  apiKey: ApiKey.CreateAcls,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  async handle(req, ctx) {
    const all = (errorCode: ErrorCodeValue, errorMessage: string | null) => ({
      throttleTimeMs: 0,
      results: req.creations.map(() => ({ errorCode, errorMessage })),
    });
    const refused = aclRequestRefusal(ctx, AclOperation.ALTER);
    if (refused) return all(refused.errorCode, refused.errorMessage);
    if (req.creations.length > MAX_ACLS_PER_REQUEST) {
      return all(ErrorCode.INVALID_REQUEST, `Cannot create more than ${MAX_ACLS_PER_REQUEST} acls in a single request.`);
    }
    const results: Array<{ errorCode: ErrorCodeValue; errorMessage: string | null }> = [];
    const valid: AclBinding[] = [];
    for (const c of req.creations) {
      const binding: AclBinding = {
        resourceType: c.resourceType,
        resourceName: c.resourceName,
        patternType: c.resourcePatternType ?? PatternType.LITERAL,
        principal: c.principal,
        host: c.host,
        operation: c.operation,
        permissionType: c.permissionType,
      };
      const problem = newAclProblem(binding);
      if (problem) results.push({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem });
      else {
        valid.push(binding);
        results.push({ errorCode: ErrorCode.NONE, errorMessage: null });
      }
    }
    if (valid.length > 0) {
      await ctx.broker.metadata.createAcls(valid);
      await ctx.broker.aclsChanged?.();
      ctx.broker.log.info({ principal: ctx.conn.principal, created: valid.length }, 'ACLs created');
    }
    return { throttleTimeMs: 0, results };
  },
  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode, errorMessage: null })) };
  },
});
