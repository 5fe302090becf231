// The one call a handler makes to check a request: `allowed(ctx, op, type, name)`. With the authorizer
// off (`--authorizer false`, the default) everything is allowed, so handlers need no other branch.
import type { RequestContext } from '../handlers/types.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from './acl.js';
import { normalizeHost } from './authorizer.js';

export { AclOperation, ResourceType } from './acl.js';

/** May the connection's principal do `op` on the resource? */
export function allowed(ctx: RequestContext, op: number, type: number, name: string): boolean {
  const auth = ctx.broker.authorizer;
  if (auth === undefined) return true;
  return auth.authorize(ctx.conn.principal, normalizeHost(ctx.conn.remoteAddress), op, type, name);
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
