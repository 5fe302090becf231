// What CreateAcls, DescribeAcls and DeleteAcls share: Kafka's checks before anything is read or written
// (ALTER or DESCRIBE on the CLUSTER, then SECURITY_DISABLED without an authorizer), and the request
// entries as bindings and filters.
import { ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import type { RequestContext } from '../handlers/types.js';
import { PatternType, type AclBinding, type AclBindingFilter } from './acl.js';
import { allowedOnCluster, authorizerEnabled } from './authorize.js';

/** Kafka's AclControlManager.MAX_RECORDS_PER_USER_OP: most ACLs one request may create or delete. */
export const MAX_ACLS_PER_REQUEST = 10_000;

/** The error every entry of the request gets, or undefined to go on. */
export function aclRequestRefusal(ctx: RequestContext, op: number): { errorCode: ErrorCodeValue; errorMessage: string } | undefined {
  if (!allowedOnCluster(ctx, op)) return { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' };
  if (!authorizerEnabled(ctx)) return { errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: 'No Authorizer is configured.' };
  return undefined;
}

interface FilterFields {
  resourceTypeFilter: number;
  resourceNameFilter: string | null;
  patternTypeFilter?: number;
  principalFilter: string | null;
  hostFilter: string | null;
  operation: number;
  permissionType: number;
}

export function toFilter(f: FilterFields): AclBindingFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter ?? PatternType.LITERAL,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permissionType: f.permissionType,
  };
}

/** DescribeAcls' resources: the bindings grouped by resource pattern, in the store's order. */
export function groupByResource(bindings: readonly AclBinding[]) {
  const out = new Map<string, { resourceType: number; resourceName: string; patternType: number; acls: Array<{ principal: string; host: string; operation: number; permissionType: number }> }>();
  for (const b of bindings) {
    const key = `${b.resourceType}\u0000${b.patternType}\u0000${b.resourceName}`;
    let r = out.get(key);
    if (r === undefined) {
      r = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] };
      out.set(key, r);
    }
    r.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permissionType });
  }
  return [...out.values()];
}
