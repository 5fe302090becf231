// The one call a handler makes to check a request: `allowed(ctx, op, type, name)`. With the authorizer
// off (`--authorizer false`, the default) everything is allowed, so handlers need no other branch.
import { ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import type { RequestContext } from '../handlers/types.js';
import { AclOperation, CLUSTER_NAME, ResourceType, operationName, resourceTypeName } from './acl.js';
import { normalizeHost } from './authorizer.js';

export { AclOperation, ResourceType } from './acl.js';

/** May the connection's principal do `op` on the resource? */
export function allowed(ctx: RequestContext, op: number, type: number, name: string): boolean {
  const auth = ctx.broker.authorizer;
  if (auth === undefined) return true;
  const host = normalizeHost(ctx.conn.remoteAddress);
  if (auth.authorize(ctx.conn.principal, host, op, type, name)) return true;
  // Kafka's authorizer log line for a denial (kafka.authorizer.logger), at debug: filters deny often.
  ctx.broker.log.debug({ principal: ctx.conn.principal, host, operation: operationName(op), resourceType: resourceTypeName(type), resource: name, clientId: ctx.header.clientId }, 'authorization denied');
  return false;
}

/** `op` on the CLUSTER resource. */
export function allowedOnCluster(ctx: RequestContext, op: number): boolean {
  return allowed(ctx, op, ResourceType.CLUSTER, CLUSTER_NAME);
}

export function allowedTopic(ctx: RequestContext, op: number, topic: string): boolean {
  return allowed(ctx, op, ResourceType.TOPIC, topic);
}

export function allowedGroup(ctx: RequestContext, op: number, group: string): boolean {
  return allowed(ctx, op, ResourceType.GROUP, group);
}

/** `op` on at least one resource of the type (Kafka's authorizeByResourceType). */
export function allowedOnAny(ctx: RequestContext, op: number, type: number): boolean {
  const auth = ctx.broker.authorizer;
  if (auth === undefined) return true;
  return auth.authorizeByResourceType(ctx.conn.principal, normalizeHost(ctx.conn.remoteAddress), op, type);
}

/**
 * Splits names into those the principal may `op` and the others (each name checked once, in order):
 * the filter helper for requests naming many topics or groups.
 */
export function partitionAllowed(ctx: RequestContext, op: number, type: number, names: Iterable<string>): { allowed: Set<string>; denied: Set<string> } {
  const ok = new Set<string>();
  const no = new Set<string>();
  for (const n of names) {
    if (ok.has(n) || no.has(n)) continue;
    (allowed(ctx, op, type, n) ? ok : no).add(n);
  }
  return { allowed: ok, denied: no };
}

/** True when the authorizer is on (CreateAcls & co. answer SECURITY_DISABLED otherwise). */
export function authorizerEnabled(ctx: RequestContext): boolean {
  return ctx.broker.authorizer !== undefined;
}

export const Op = AclOperation;

/**
 * The `*AuthorizedOperations` bit field (bit = operation code) of a resource: of the operations in
 * `supported` (the field with everything Kafka supports on that resource type), those allowed.
 */
export function authorizedOperations(ctx: RequestContext, type: number, name: string, supported: number): number {
  if (ctx.broker.authorizer === undefined) return supported;
  let bits = 0;
  for (let op = 0; op < 31; op++) if ((supported & (1 << op)) !== 0 && allowed(ctx, op, type, name)) bits |= 1 << op;
  return bits;
}

/** The cluster's authorized operations as DescribeCluster and Metadata report them: 0 without DESCRIBE. */
export function clusterAuthorizedOperations(ctx: RequestContext, supported: number): number {
  if (!allowedOnCluster(ctx, AclOperation.DESCRIBE)) return 0;
  return authorizedOperations(ctx, ResourceType.CLUSTER, CLUSTER_NAME, supported);
}

/** ConfigResource types (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs). */
const CONFIG_TOPIC = 2;
const CONFIG_BROKER = 4;
const CONFIG_BROKER_LOGGER = 8;

/**
 * Kafka's check of a config resource: `op` (DESCRIBE_CONFIGS or ALTER_CONFIGS) on the topic, or on the
 * cluster for a broker; the error to answer for that resource, or undefined when allowed.
 */
export function configResourceRefusal(ctx: RequestContext, op: number, resourceType: number, resourceName: string): { errorCode: ErrorCodeValue; errorMessage: string } | undefined {
  if (resourceType === CONFIG_TOPIC && !allowedTopic(ctx, op, resourceName)) {
    return { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Topic authorization failed.' };
  }
  if ((resourceType === CONFIG_BROKER || resourceType === CONFIG_BROKER_LOGGER) && !allowedOnCluster(ctx, op)) {
    return { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'Cluster authorization failed.' };
  }
  return undefined;
}
