// ACL bindings as Kafka defines them (org.apache.kafka.common.acl / .resource): the codes travel in
// CreateAcls/DescribeAcls/DeleteAcls, the lower-case names are what the metadata database and the CLI
// hold. A binding is a resource pattern (type, name, pattern type) plus an entry (principal, host,
// operation, permission); a filter is the same with ANY / MATCH / null wildcards.

export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;
export type ResourceTypeCode = (typeof ResourceType)[keyof typeof ResourceType];

export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export type PatternTypeCode = (typeof PatternType)[keyof typeof PatternType];

export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export type AclOperationCode = (typeof AclOperation)[keyof typeof AclOperation];

export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;
export type AclPermissionCode = (typeof AclPermission)[keyof typeof AclPermission];

/** The one name of the CLUSTER resource (Kafka's CLUSTER_NAME). */
export const CLUSTER_NAME = 'kafka-cluster';
/** Resource name or host matching everything (a LITERAL pattern named `*`). */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

/** One ACL, as stored (codes as Kafka's). */
export interface AclBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permissionType: number;
}

/** DescribeAcls / DeleteAcls filter: null strings and ANY codes match anything; MATCH patterns match
 * the ACLs that would apply to a resource of that name (literal, wildcard, prefixes). */
export interface AclBindingFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permissionType: number;
}

function names<T extends Record<string, number>>(table: T): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k.toLowerCase()]));
}
const RESOURCE_NAMES = names(ResourceType);
const PATTERN_NAMES = names(PatternType);
const OPERATION_NAMES = names(AclOperation);
const PERMISSION_NAMES = names(AclPermission);

function codeOf(table: Map<number, string>, name: string): number | undefined {
  const n = name.trim().toLowerCase().replace(/-/g, '_');
  for (const [code, nm] of table) if (nm === n) return code;
  return undefined;
}

export const resourceTypeName = (c: number) => RESOURCE_NAMES.get(c) ?? `unknown(${c})`;
export const patternTypeName = (c: number) => PATTERN_NAMES.get(c) ?? `unknown(${c})`;
export const operationName = (c: number) => OPERATION_NAMES.get(c) ?? `unknown(${c})`;
export const permissionName = (c: number) => PERMISSION_NAMES.get(c) ?? `unknown(${c})`;
export const resourceTypeCode = (n: string) => codeOf(RESOURCE_NAMES, n);
export const patternTypeCode = (n: string) => codeOf(PATTERN_NAMES, n);
export const operationCode = (n: string) => codeOf(OPERATION_NAMES, n);
export const permissionCode = (n: string) => codeOf(PERMISSION_NAMES, n);

/** Resource types our authorizer decides on (Kafka's delegation tokens and users are not served). */
const SERVED_RESOURCES = new Set<number>([ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER, ResourceType.TRANSACTIONAL_ID]);
const KNOWN_OPERATIONS = new Set<number>(Object.values(AclOperation));

/** Longest resource name and principal stored, in UTF-8 bytes (topic names are ≤ 249), and host: the
 * seven columns are the table's key, whose index entries PostgreSQL keeps below ~2.7 kB. */
export const MAX_ACL_NAME_BYTES = 1000;
export const MAX_ACL_HOST_BYTES = 255;

/**
 * Why CreateAcls refuses a binding (Kafka's AclApis + AclControlManager.validateNewAcl, answered with
 * INVALID_REQUEST), or undefined when it is valid. Also refuses resource types we do not serve.
 */
export function newAclProblem(b: AclBinding): string | undefined {
  if (b.resourceType === ResourceType.UNKNOWN || b.resourceType === ResourceType.ANY || !RESOURCE_NAMES.has(b.resourceType)) {
    return `Invalid resourceType ${resourceTypeName(b.resourceType).toUpperCase()}`;
  }
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) {
    return `Invalid patternType ${patternTypeName(b.patternType).toUpperCase()}`;
  }
  if (b.operation === AclOperation.UNKNOWN || b.operation === AclOperation.ANY || !KNOWN_OPERATIONS.has(b.operation)) {
    return `Invalid operation ${operationName(b.operation).toUpperCase()}`;
  }
  if (b.permissionType !== AclPermission.ALLOW && b.permissionType !== AclPermission.DENY) {
    return `Invalid permissionType ${permissionName(b.permissionType).toUpperCase()}`;
  }
  if (b.resourceName === '') return 'Invalid empty resource name';
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_NAME) {
    return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  }
  if (!SERVED_RESOURCES.has(b.resourceType)) {
    return `Resource type ${resourceTypeName(b.resourceType).toUpperCase()} is not supported by this broker`;
  }
  const colon = b.principal.indexOf(':');
  if (colon <= 0) {
    return `Could not parse principal from \`${b.principal}\` (no colon is present separating the principal type from the principal name)`;
  }
  if (b.host === '') return 'Invalid empty host';
  for (const [field, value, max] of [['resource name', b.resourceName, MAX_ACL_NAME_BYTES], ['principal', b.principal, MAX_ACL_NAME_BYTES], ['host', b.host, MAX_ACL_HOST_BYTES]] as const) {
    if (Buffer.byteLength(value) > max) return `The ${field} is longer than ${max} bytes`;
  }
  return undefined;
}

/** Why DescribeAcls/DeleteAcls refuse a filter (UNKNOWN elements), or undefined. */
export function filterProblem(f: AclBindingFilter): string | undefined {
  if (!RESOURCE_NAMES.has(f.resourceType) || f.resourceType === ResourceType.UNKNOWN) return 'Unknown patternFilter.';
  if (!PATTERN_NAMES.has(f.patternType) || f.patternType === PatternType.UNKNOWN) return 'Unknown patternFilter.';
  if (!KNOWN_OPERATIONS.has(f.operation) || f.operation === AclOperation.UNKNOWN) return 'Unknown entryFilter.';
  if (!PERMISSION_NAMES.has(f.permissionType) || f.permissionType === AclPermission.UNKNOWN) return 'Unknown entryFilter.';
  return undefined;
}

/** Kafka's AclBindingFilter.matches: the pattern part, then the entry part. */
export function filterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (f.patternType === PatternType.MATCH) {
    if (f.resourceName !== null) {
      // The ACLs that apply to a resource named so: its literal ACLs, the wildcard, prefixes of it.
      const applies =
        b.patternType === PatternType.LITERAL
          ? b.resourceName === f.resourceName || b.resourceName === WILDCARD
          : b.patternType === PatternType.PREFIXED && f.resourceName.startsWith(b.resourceName);
      if (!applies) return false;
    }
  } else {
    if (f.patternType !== PatternType.ANY && f.patternType !== b.patternType) return false;
    if (f.resourceName !== null && f.resourceName !== b.resourceName) return false;
  }
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  if (f.permissionType !== AclPermission.ANY && f.permissionType !== b.permissionType) return false;
  return true;
}

export function sameBinding(a: AclBinding, b: AclBinding): boolean {
  return (
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.patternType === b.patternType &&
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

/** `User:alice has ALLOW READ from host * on TOPIC (LITERAL) orders`: for logs and the CLI. */
export function describeBinding(b: AclBinding): string {
  return `${b.principal} has ${permissionName(b.permissionType).toUpperCase()} ${operationName(b.operation).toUpperCase()} from host ${b.host} on ${resourceTypeName(b.resourceType).toUpperCase()} (${patternTypeName(b.patternType).toUpperCase()}) ${b.resourceName}`;
}
