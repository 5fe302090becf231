// `streamhouse acls add|list|remove`: ACLs written to and read from the metadata database directly
// (PostgreSQL by URL, or the embedded database of a stopped agent's data directory), so the first
// ACLs can exist before any client can connect. Agents on PostgreSQL reload them within a second
// (the statements notify them); an embedded agent loads them when it starts.
// The options follow kafka-acls.sh: --allow-principal/--deny-principal, --operation, --topic, --group,
// --cluster, --transactional-id, --resource-pattern-type literal|prefixed, --allow-host/--deny-host.
import { openMetadataStore, type MetadataStore } from '../../metadata/index.js';
import {
  AclOperation,
  AclPermission,
  CLUSTER_NAME,
  PatternType,
  ResourceType,
  filterMatches,
  newAclProblem,
  operationCode,
  operationName,
  patternTypeName,
  permissionName,
  resourceTypeName,
  type AclBinding,
  type AclBindingFilter,
} from '../security/acl.js';
import { ApiKey, ErrorCode, errorName } from '../../protocol/index.js';
import { BrokerClient } from './broker-client.js';
import { AdminError } from './errors.js';
import { formatTable } from './table.js';
import { resolve } from 'node:path';
import { acquireDataDirLock, DataDirInUseError } from '../data-dir-lock.js';
import { chooseTarget } from './target.js';

export interface AclOptions {
  bootstrapServer?: string;
  timeoutMs?: number;
  databaseUrl?: string;
  dataDir?: string;
  allowPrincipal?: string[];
  denyPrincipal?: string[];
  principal?: string;
  allowHost?: string[];
  denyHost?: string[];
  operation?: string[];
  topic?: string;
  group?: string;
  cluster?: boolean;
  transactionalId?: string;
  resourcePatternType?: string;
  json?: boolean;
}

export interface AclRow {
  principal: string;
  host: string;
  operation: string;
  permission: string;
  resourceType: string;
  patternType: string;
  resourceName: string;
}

export const toRow = (b: AclBinding): AclRow => ({
  principal: b.principal,
  host: b.host,
  operation: operationName(b.operation),
  permission: permissionName(b.permissionType),
  resourceType: resourceTypeName(b.resourceType),
  patternType: patternTypeName(b.patternType),
  resourceName: b.resourceName,
});

export function renderAcls(rows: readonly AclRow[]): string {
  return formatTable(
    [
      { header: 'PRINCIPAL', value: (r: AclRow) => r.principal },
      { header: 'HOST', value: (r) => r.host },
      { header: 'PERMISSION', value: (r) => r.permission },
      { header: 'OPERATION', value: (r) => r.operation },
      { header: 'RESOURCE', value: (r) => r.resourceType },
      { header: 'PATTERN', value: (r) => r.patternType },
      { header: 'NAME', value: (r) => r.resourceName },
    ],
    rows,
    { empty: '(no ACLs)' },
  );
}

/** The one resource named by --topic/--group/--cluster/--transactional-id (undefined: none given). */
function resourceOf(o: AclOptions): { type: number; name: string } | undefined {
  const given: Array<{ type: number; name: string }> = [];
  if (o.topic !== undefined) given.push({ type: ResourceType.TOPIC, name: o.topic });
  if (o.group !== undefined) given.push({ type: ResourceType.GROUP, name: o.group });
  if (o.cluster) given.push({ type: ResourceType.CLUSTER, name: CLUSTER_NAME });
  if (o.transactionalId !== undefined) given.push({ type: ResourceType.TRANSACTIONAL_ID, name: o.transactionalId });
  if (given.length > 1) throw new AdminError('name one resource: --topic, --group, --cluster or --transactional-id', 2);
  return given[0];
}

function patternOf(o: AclOptions, forAdd: boolean): number {
  const p = (o.resourcePatternType ?? 'literal').toLowerCase();
  if (p === 'literal') return PatternType.LITERAL;
  if (p === 'prefixed') return PatternType.PREFIXED;
  if (!forAdd && p === 'any') return PatternType.ANY;
  if (!forAdd && p === 'match') return PatternType.MATCH;
  throw new AdminError(`--resource-pattern-type must be literal or prefixed${forAdd ? '' : ', any or match'}`, 2);
}

function operationsOf(o: AclOptions): number[] {
  const out: number[] = [];
  for (const raw of (o.operation ?? []).flatMap((x) => x.split(','))) {
    const code = operationCode(raw);
    if (code === undefined || code === AclOperation.UNKNOWN || code === AclOperation.ANY) {
      throw new AdminError(`unknown operation "${raw}": one of all, read, write, create, delete, alter, describe, cluster_action, describe_configs, alter_configs, idempotent_write`, 2);
    }
    out.push(code);
  }
  return out;
}

/** The bindings `acls add` creates: every principal × host × operation given. */
export function bindingsToAdd(o: AclOptions): AclBinding[] {
  const resource = resourceOf(o);
  if (resource === undefined) throw new AdminError('acls add needs a resource: --topic NAME, --group NAME, --cluster or --transactional-id ID', 2);
  const ops = operationsOf(o);
  if (ops.length === 0) throw new AdminError('acls add needs --operation (e.g. read, write, describe, all)', 2);
  const allow = o.allowPrincipal ?? [];
  const deny = o.denyPrincipal ?? [];
  if (allow.length + deny.length === 0) throw new AdminError('acls add needs --allow-principal User:NAME or --deny-principal User:NAME', 2);
  const patternType = patternOf(o, true);
  const out: AclBinding[] = [];
  for (const [principals, permissionType, hosts] of [
    [allow, AclPermission.ALLOW, o.allowHost ?? ['*']],
    [deny, AclPermission.DENY, o.denyHost ?? ['*']],
  ] as const) {
    for (const principal of principals) {
      for (const host of hosts) {
        for (const operation of ops) {
          const b: AclBinding = { resourceType: resource.type, resourceName: resource.name, patternType, principal, host, operation, permissionType };
          const problem = newAclProblem(b);
          if (problem) throw new AdminError(problem, 2);
          out.push(b);
        }
      }
    }
  }
  return out;
}

/** The filter `acls list` and `acls remove` apply (unset options match anything). */
export function filterOf(o: AclOptions): AclBindingFilter {
  const resource = resourceOf(o);
  const ops = operationsOf(o);
  if (ops.length > 1) throw new AdminError('list and remove take one --operation', 2);
  const principals = [...(o.allowPrincipal ?? []), ...(o.denyPrincipal ?? [])];
  const principal = o.principal ?? (principals.length === 1 ? principals[0]! : null);
  if (principals.length > 1) throw new AdminError('list and remove take one principal', 2);
  const permission = o.allowPrincipal?.length ? AclPermission.ALLOW : o.denyPrincipal?.length ? AclPermission.DENY : AclPermission.ANY;
  return {
    resourceType: resource?.type ?? ResourceType.ANY,
    resourceName: resource?.name ?? null,
    patternType: o.resourcePatternType === undefined ? PatternType.ANY : patternOf(o, false),
    principal,
    host: o.allowHost?.[0] ?? o.denyHost?.[0] ?? null,
    operation: ops[0] ?? AclOperation.ANY,
    permissionType: permission,
  };
}

/** Opens the metadata database for writing: PostgreSQL is migrated first (ACLs may come before any agent). */
async function openStore(o: AclOptions): Promise<{ store: MetadataStore; close(): Promise<void> }> {
  const where = chooseTarget({ databaseUrl: o.databaseUrl, dataDir: o.dataDir });
  if (where.kind === 'postgres') {
    try {
      const store = await openMetadataStore({ databaseUrl: where.value, dataDir: '', pool: { max: 2 } });
      return { store, close: () => store.close() };
    } catch (err) {
      throw new AdminError((err as Error).message);
    }
  }
  // The data directory may be new: the ACLs can be written before the agent's first start.
  const dir = resolve(where.value);
  let lock;
  try {
    lock = await acquireDataDirLock(dir);
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      throw new AdminError(`the embedded database in ${dir} is locked by a running agent (process ${err.pid}): stop it, or use kafka-acls.sh / an admin client against the agent (CreateAcls)`);
    }
    throw err;
  }
  try {
    const store = await openMetadataStore({ dataDir: dir });
    return {
      store,
      close: async () => {
        try {
          await store.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (err) {
    await lock.release();
    throw new AdminError(`cannot open the embedded metadata database in ${dir}: ${(err as Error).message}`);
  }
}

/** The same actions through a running agent: CreateAcls / DescribeAcls / DeleteAcls v1 (needs ALTER or DESCRIBE on the cluster). */
async function throughBroker(action: 'add' | 'list' | 'remove', o: AclOptions, toAdd: AclBinding[], filter: AclBindingFilter | undefined): Promise<{ acls: AclRow[]; message: string }> {
  if (o.databaseUrl !== undefined || o.dataDir !== undefined) throw new AdminError('--bootstrap-server cannot be used with --database-url or --data-dir: choose one', 2);
  const client = await BrokerClient.connect(o.bootstrapServer!, o.timeoutMs ?? 10_000);
  const failed = (code: number, message: string | null | undefined) => new AdminError(`${errorName(code)}${message ? `: ${message}` : ''}`);
  try {
    if (action === 'add') {
      const r = await client.bootstrapRequest(ApiKey.CreateAcls, 1, {
        creations: toAdd.map((b) => ({ resourceType: b.resourceType, resourceName: b.resourceName, resourcePatternType: b.patternType, principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permissionType })),
      });
      const bad = r.results.find((x) => x.errorCode !== ErrorCode.NONE);
      if (bad) throw failed(bad.errorCode, bad.errorMessage);
      return { acls: toAdd.map(toRow), message: `${toAdd.length} ACL(s) added (or already present)` };
    }
    const f = {
      resourceTypeFilter: filter!.resourceType,
      resourceNameFilter: filter!.resourceName,
      patternTypeFilter: filter!.patternType,
      principalFilter: filter!.principal,
      hostFilter: filter!.host,
      operation: filter!.operation,
      permissionType: filter!.permissionType,
    };
    if (action === 'list') {
      const r = await client.bootstrapRequest(ApiKey.DescribeAcls, 1, f);
      if (r.errorCode !== ErrorCode.NONE) throw failed(r.errorCode, r.errorMessage);
      const rows = r.resources.flatMap((res) =>
        res.acls.map((a) => toRow({ resourceType: res.resourceType, resourceName: res.resourceName, patternType: res.patternType ?? PatternType.LITERAL, ...a })),
      );
      return { acls: rows, message: `${rows.length} ACL(s)` };
    }
    const r = await client.bootstrapRequest(ApiKey.DeleteAcls, 1, { filters: [f] });
    const res = r.filterResults[0]!;
    if (res.errorCode !== ErrorCode.NONE) throw failed(res.errorCode, res.errorMessage);
    const rows = res.matchingAcls.map((m) =>
      toRow({ resourceType: m.resourceType, resourceName: m.resourceName, patternType: m.patternType ?? PatternType.LITERAL, principal: m.principal, host: m.host, operation: m.operation, permissionType: m.permissionType }),
    );
    return { acls: rows, message: `${rows.length} ACL(s) removed` };
  } finally {
    client.close();
  }
}

export async function runAcls(action: 'add' | 'list' | 'remove', o: AclOptions): Promise<{ acls: AclRow[]; message: string }> {
  if (o.bootstrapServer !== undefined) {
    const toAdd = action === 'add' ? bindingsToAdd(o) : [];
    const filter = action === 'add' ? undefined : filterOf(o);
    if (action === 'remove' && filter!.resourceName === null && filter!.principal === null) {
      throw new AdminError('acls remove needs a resource (--topic, --group, --cluster, --transactional-id) or a principal (--principal)', 2);
    }
    return throughBroker(action, o, toAdd, filter);
  }
  if (o.databaseUrl === undefined && o.dataDir === undefined && !process.env.DATABASE_URL && !process.env.STREAMHOUSE_DATA_DIR) {
    throw new AdminError('say where the ACLs are: --database-url URL (or DATABASE_URL) or --data-dir DIR (an embedded agent\'s data directory, agent stopped)', 2);
  }
  // Parse before opening anything: a bad command line changes nothing.
  const toAdd = action === 'add' ? bindingsToAdd(o) : [];
  const filter = action === 'add' ? undefined : filterOf(o);
  if (action === 'remove' && filter!.resourceName === null && filter!.principal === null) {
    throw new AdminError('acls remove needs a resource (--topic, --group, --cluster, --transactional-id) or a principal (--principal)', 2);
  }
  const { store, close } = await openStore(o);
  try {
    if (action === 'add') {
      const created = await store.createAcls(toAdd);
      return { acls: toAdd.map(toRow), message: `${created} ACL(s) added, ${toAdd.length - created} already present` };
    }
    const matching = (await store.listAcls()).filter((b) => filterMatches(filter!, b));
    if (action === 'list') return { acls: matching.map(toRow), message: `${matching.length} ACL(s)` };
    const removed = await store.deleteAcls(matching);
    return { acls: removed.map(toRow), message: `${removed.length} ACL(s) removed` };
  } finally {
    await close();
  }
}
