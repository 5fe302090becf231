// The authorizer: Kafka's StandardAuthorizer semantics, decided from memory. An agent holds every ACL
// (loaded from the metadata database, replaced whole on every change: src/security/acl-sync.ts) in an
// index built once per change; the entries that apply to a resource name are collected on its first
// check and remembered until the next change, so a check is one Map lookup and a short loop, no I/O.
//
// A request by `principal` from `host` to do `op` on a resource (type, name) is:
//  1. ALLOWED for a super user (`--super-users`), whatever the ACLs say;
//  2. otherwise the ACLs that apply to the resource are those of its type whose pattern is LITERAL with
//     its name, LITERAL `*`, or PREFIXED with a prefix of its name; among them those of the principal
//     (or `User:*`) and host (or `*`):
//     - a DENY whose operation is `op` or ALL wins;
//     - else an ALLOW whose operation is `op` or ALL, or implies it (READ, WRITE, DELETE, ALTER imply
//       DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS; implications never extend DENY), allows;
//     - else DENIED, unless no ACL at all (any principal) applies to the resource: then
//       `--allow-everyone-if-no-acl-found` decides (Kafka's allow.everyone.if.no.acl.found, default false).
import type { KafkaPrincipal } from './principal.js';
import { AclOperation, AclPermission, PatternType, ResourceType, WILDCARD, WILDCARD_PRINCIPAL, type AclBinding } from './acl.js';

export interface AuthorizerOptions {
  /** Principals allowed everything (`User:admin`), Kafka's super.users. */
  superUsers?: Iterable<KafkaPrincipal>;
  /** What a resource without any ACL allows (Kafka's allow.everyone.if.no.acl.found). */
  allowEveryoneIfNoAclFound?: boolean;
}

/** One ACL entry inside the index (the resource part is the index key). */
interface Entry {
  principal: string;
  host: string;
  operation: number;
  allow: boolean;
}

/** The ACLs of one resource type. */
interface TypeIndex {
  literal: Map<string, Entry[]>;
  /** LITERAL `*`. */
  wildcard: Entry[];
  prefixed: Map<string, Entry[]>;
  /** Distinct lengths of the prefixes, so a check looks up name.slice(0, len) for each. */
  prefixLengths: number[];
  /** Per resource name, every entry that applies to it (literal, wildcard, prefixes), built on first use. */
  applicable: Map<string, readonly Entry[]>;
}

/** Names whose applicable entries are remembered per resource type (then the memo starts over). */
const MEMO_LIMIT = 65_536;

const IMPLIES_DESCRIBE = new Set<number>([AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER]);
const IMPLIES_DESCRIBE_CONFIGS = new Set<number>([AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS]);

/** Verdict of one ACL on a request: undefined when it says nothing about it. */
function verdict(e: Entry, principal: string, host: string, op: number): boolean | undefined {
  if (e.principal !== principal && e.principal !== WILDCARD_PRINCIPAL) return undefined;
  if (e.host !== WILDCARD && e.host !== host) return undefined;
  if (e.operation !== AclOperation.ALL) {
    if (e.allow) {
      if (op === AclOperation.DESCRIBE) {
        if (!IMPLIES_DESCRIBE.has(e.operation)) return undefined;
      } else if (op === AclOperation.DESCRIBE_CONFIGS) {
        if (!IMPLIES_DESCRIBE_CONFIGS.has(e.operation)) return undefined;
      } else if (e.operation !== op) return undefined;
    } else if (e.operation !== op) return undefined;
  }
  return e.allow;
}

/** IPv4 peers of a dual-stack listener arrive as ::ffff:a.b.c.d; ACL hosts name them a.b.c.d, as Kafka. */
export function normalizeHost(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  readonly allowEveryoneIfNoAclFound: boolean;
  private index = new Map<number, TypeIndex>();
  private bindings: readonly AclBinding[] = [];

  constructor(opts: AuthorizerOptions = {}) {
    this.superUsers = new Set(opts.superUsers ?? []);
    this.allowEveryoneIfNoAclFound = opts.allowEveryoneIfNoAclFound ?? false;
  }

  /** Replaces every ACL (the database's current set). */
  load(bindings: readonly AclBinding[]): void {
    const index = new Map<number, TypeIndex>();
    for (const b of bindings) {
      let t = index.get(b.resourceType);
      if (t === undefined) {
        t = { literal: new Map(), wildcard: [], prefixed: new Map(), prefixLengths: [], applicable: new Map() };
        index.set(b.resourceType, t);
      }
      const e: Entry = { principal: b.principal, host: b.host, operation: b.operation, allow: b.permissionType === AclPermission.ALLOW };
      if (b.patternType === PatternType.LITERAL) {
        if (b.resourceName === WILDCARD) t.wildcard.push(e);
        else push(t.literal, b.resourceName, e);
      } else if (b.patternType === PatternType.PREFIXED) {
        push(t.prefixed, b.resourceName, e);
      }
    }
    for (const t of index.values()) t.prefixLengths = [...new Set([...t.prefixed.keys()].map((k) => k.length))].sort((a, b) => a - b);
    this.index = index;
    this.bindings = bindings;
  }

  /** Every ACL loaded. */
  acls(): readonly AclBinding[] {
    return this.bindings;
  }

  isSuperUser(principal: KafkaPrincipal): boolean {
    return this.superUsers.has(principal);
  }

  /** May `principal` connected from `host` do `op` on the resource `type`/`name`? */
  authorize(principal: KafkaPrincipal, host: string, op: number, type: number, name: string): boolean {
    if (this.superUsers.has(principal)) return true;
    const t = this.index.get(type);
    if (t === undefined) return this.allowEveryoneIfNoAclFound;
    let entries = t.applicable.get(name);
    if (entries === undefined) {
      entries = applicableEntries(t, name);
      if (t.applicable.size >= MEMO_LIMIT) t.applicable.clear();
      t.applicable.set(name, entries);
    }
    let allowed = false;
    for (let i = 0; i < entries.length; i++) {
      const v = verdict(entries[i]!, principal, host, op);
      if (v === false) return false;
      if (v === true) allowed = true;
    }
    const found = entries.length > 0;
    return allowed || (!found && this.allowEveryoneIfNoAclFound);
  }

  /**
   * May the principal do `op` on at least one resource of `type` (Kafka's authorizeByResourceType, as
   * InitProducerId asks for WRITE on any topic)? A super user, or a literal resource without ACLs under
   * allow-everyone, may; else an ALLOW (op or ALL) for some pattern not covered by a DENY: a wildcard
   * DENY covers all, a literal DENY its own name, a prefixed DENY every name it prefixes.
   */
  authorizeByResourceType(principal: KafkaPrincipal, host: string, op: number, type: number): boolean {
    if (this.authorize(principal, host, op, type, 'hardcode')) return true;
    const denyLiteral = new Set<string>();
    const denyPrefixed = new Set<string>();
    const allowLiteral: string[] = [];
    const allowPrefixed: string[] = [];
    for (const b of this.bindings) {
      if (b.resourceType !== type) continue;
      if (b.host !== host && b.host !== WILDCARD) continue;
      if (b.principal !== principal && b.principal !== WILDCARD_PRINCIPAL) continue;
      if (b.operation !== op && b.operation !== AclOperation.ALL) continue;
      const literal = b.patternType === PatternType.LITERAL;
      if (b.permissionType === AclPermission.DENY) {
        if (literal && b.resourceName === WILDCARD) return false;
        (literal ? denyLiteral : denyPrefixed).add(b.resourceName);
      } else if (b.permissionType === AclPermission.ALLOW) {
        if (literal && b.resourceName === WILDCARD) return true;
        (literal ? allowLiteral : allowPrefixed).push(b.resourceName);
      }
    }
    const dominated = (name: string) => {
      for (let i = 1; i <= name.length; i++) if (denyPrefixed.has(name.slice(0, i))) return true;
      return false;
    };
    for (const name of allowLiteral) if (!denyLiteral.has(name) && !dominated(name)) return true;
    for (const name of allowPrefixed) if (!dominated(name)) return true;
    return false;
  }
}

/** The entries of the ACLs that apply to a resource named `name`: its literal ones, the wildcard, prefixes. */
function applicableEntries(t: TypeIndex, name: string): Entry[] {
  const out: Entry[] = [...(t.literal.get(name) ?? []), ...t.wildcard];
  for (const len of t.prefixLengths) {
    if (len > name.length) break;
    const prefixed = t.prefixed.get(len === name.length ? name : name.slice(0, len));
    if (prefixed !== undefined) out.push(...prefixed);
  }
  return out;
}

function push(map: Map<string, Entry[]>, key: string, e: Entry): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [e]);
  else list.push(e);
}

/** `User:admin;User:ops` (Kafka's super.users syntax): the principals, trimmed, empty ones dropped. */
export function parseSuperUsers(value: string): string[] {
  return value
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export { ResourceType, AclOperation };
