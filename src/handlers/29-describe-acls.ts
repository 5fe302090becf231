// DescribeAcls: the ACLs matching one filter, grouped by resource pattern (Kafka's AclApis). Needs
// DESCRIBE on the cluster; SECURITY_DISABLED with the authorizer off. Read from the agent's in-memory
// set, which follows the database within a second (src/security/acl-sync.ts).
import { ApiKey, API_INFO, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { filterMatches, filterProblem } from '../security/acl.js';
import { AclOperation } from '../security/authorize.js';
import { aclRequestRefusal, groupByResource, toFilter } from '../security/acl-requests.js';
import { defineHandler } from './types.js';

const [MIN_VERSION, MAX_VERSION] = API_INFO[ApiKey.DescribeAcls].validVersions;

function failure(errorCode: ErrorCodeValue, errorMessage: string | null) {
  return { throttleTimeMs: 0, errorCode, errorMessage, resources: [] };
}

export const handler = defineHandler({
  apiKey: ApiKey.DescribeAcls,
  minVersion: MIN_VERSION,
  maxVersion: MAX_VERSION,
  handle(req, ctx) {
    const refused = aclRequestRefusal(ctx, AclOperation.DESCRIBE);
    if (refused) return failure(refused.errorCode, refused.errorMessage);
    const filter = toFilter(req);
    // Kafka refuses a filter with UNKNOWN elements while parsing the request (the connection closes);
    // we answer INVALID_REQUEST instead.
    const problem = filterProblem(filter);
    if (problem) return failure(ErrorCode.INVALID_REQUEST, problem);
    const matching = ctx.broker.authorizer!.acls().filter((b) => filterMatches(filter, b));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: groupByResource(matching) };
  },
  errorResponse(_req, errorCode) {
    return failure(errorCode, null);
  },
});
