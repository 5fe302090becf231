// ACL benchmark: npm run bench -- acls [--acls=N] [--seconds=S] [--no-postgres]
//
// 1. Authorization decisions from memory (target ≥ 1 M checks/s): the authorizer loaded with N ACLs
//    (default 10,000: literal topic and group ACLs of 100 principals, prefixed and wildcard ACLs, denies),
//    checked in a tight loop for each kind of request (literal allow, prefixed allow, deny, no match,
//    implied DESCRIBE, super user), and through the handlers' call (host normalised from the connection).
// 2. The cost of a reload (Authorizer.load of N ACLs), paid once per change on every agent.
// 3. Propagation on PostgreSQL: createAcls through one store until a second agent's AclSync (LISTEN/
//    NOTIFY) holds the new ACL, p50/p99 over 50 changes (target: within one second).
import { performance } from 'node:perf_hooks';
import { AclOperation as Op, AclPermission, PatternType, ResourceType as R, type AclBinding } from '../src/security/acl.js';
import { Authorizer } from '../src/security/authorizer.js';
import { allowed } from '../src/security/authorize.js';
import type { RequestContext } from '../src/handlers/types.js';

function arg(args: string[], name: string, dflt: string): string {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : a.slice(name.length + 3);
}

function acls(n: number): AclBinding[] {
  const base = { patternType: PatternType.LITERAL, host: '*', permissionType: AclPermission.ALLOW };
  const out: AclBinding[] = [{ ...base, resourceType: R.TOPIC, resourceName: '*', principal: 'User:monitor', operation: Op.DESCRIBE }];
  for (let i = 0; out.length < n; i++) {
    const principal = `User:u${i % 100}`;
    out.push({ ...base, resourceType: R.TOPIC, resourceName: `topic-${i}`, principal, operation: i % 2 === 0 ? Op.READ : Op.WRITE });
    out.push({ ...base, resourceType: R.GROUP, resourceName: `group-${i}`, principal, operation: Op.READ });
    if (i % 10 === 0) out.push({ ...base, resourceType: R.TOPIC, resourceName: `team${i}-`, patternType: PatternType.PREFIXED, principal, operation: Op.ALL });
    if (i % 50 === 0) out.push({ ...base, resourceType: R.TOPIC, resourceName: `topic-${i}`, principal, operation: Op.WRITE, permissionType: AclPermission.DENY });
  }
  return out.slice(0, n);
}

type Check = [principal: string, host: string, op: number, type: number, name: string];

function rate(label: string, checks: readonly Check[], a: Authorizer, seconds: number, expect: boolean): number {
  let n = 0;
  let ok = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  while (performance.now() < deadline) {
    for (let k = 0; k < 10_000; k++) {
      const c = checks[k % checks.length]!;
      if (a.authorize(c[0], c[1], c[2], c[3], c[4])) ok++;
    }
    n += 10_000;
  }
  const perSec = n / ((performance.now() - started) / 1000);
  if ((ok === n) !== expect && !(ok === 0 && !expect)) throw new Error(`${label}: unexpected decisions (${ok} of ${n} allowed)`);
  console.log(`  ${label.padEnd(44)} ${(perSec / 1e6).toFixed(2).padStart(6)} M checks/s  (${ok === n ? 'allowed' : ok === 0 ? 'denied' : 'mixed'})`);
  return perSec;
}

export async function run(args: string[]): Promise<void> {
  const n = Number(arg(args, 'acls', '10000'));
  const seconds = Number(arg(args, 'seconds', '1'));
  const bindings = acls(n);
  const a = new Authorizer({ superUsers: ['User:admin'] });
  a.load(bindings);
  console.log(`acls: ${bindings.length} ACLs loaded, 100 principals; ${seconds} s per case (target ≥ 1 M checks/s)`);
  const H = '10.1.2.3';
  const rates = [
    rate('literal topic READ, allowed', Array.from({ length: 1000 }, (_, i): Check => [`User:u${(2 * i) % 100}`, H, Op.READ, R.TOPIC, `topic-${2 * i}`]), a, seconds, true),
    rate('group READ, allowed', Array.from({ length: 1000 }, (_, i): Check => [`User:u${i % 100}`, H, Op.READ, R.GROUP, `group-${i}`]), a, seconds, true),
    rate('prefixed ALL → WRITE, allowed', Array.from({ length: 100 }, (_, i): Check => [`User:u${(10 * i) % 100}`, H, Op.WRITE, R.TOPIC, `team${10 * i}-orders`]), a, seconds, true),
    rate('implied DESCRIBE (from READ), allowed', Array.from({ length: 1000 }, (_, i): Check => [`User:u${(2 * i) % 100}`, H, Op.DESCRIBE, R.TOPIC, `topic-${2 * i}`]), a, seconds, true),
    rate('wildcard DESCRIBE, allowed', [['User:monitor', H, Op.DESCRIBE, R.TOPIC, 'topic-7']], a, seconds, true),
    rate('deny WRITE wins over prefixed ALL', Array.from({ length: 40 }, (_, i): Check => [`User:u${(50 * i) % 100}`, H, Op.WRITE, R.TOPIC, `topic-${50 * i}`]), a, seconds, false),
    rate('other principal, denied', Array.from({ length: 1000 }, (_, i): Check => [`User:x${i}`, H, Op.READ, R.TOPIC, `topic-${i}`]), a, seconds, false),
    rate('first check of each name (memo miss)', Array.from({ length: 200_000 }, (_, i): Check => [`User:u${i % 100}`, H, Op.READ, R.TOPIC, `cold-${i}`]), a, seconds, false),
    rate('super user', [['User:admin', H, Op.ALTER, R.CLUSTER, 'kafka-cluster']], a, seconds, true),
  ];
  // As a handler calls it: principal and address from the connection.
  const ctx = { conn: { principal: 'User:u0', remoteAddress: '::ffff:10.1.2.3' }, broker: { authorizer: a } } as unknown as RequestContext;
  let m = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 10_000; k++) if (allowed(ctx, Op.READ, R.TOPIC, 'topic-0')) m++;
  }
  const viaCtx = m / ((performance.now() - t0) / 1000);
  console.log(`  ${'handler call allowed(ctx, READ, TOPIC, name)'.padEnd(44)} ${(viaCtx / 1e6).toFixed(2).padStart(6)} M checks/s`);
  console.log(`  slowest case ${(Math.min(...rates, viaCtx) / 1e6).toFixed(2)} M checks/s`);

  for (const size of [1000, 10_000, 100_000]) {
    const set = acls(size);
    const b = new Authorizer();
    const t = performance.now();
    b.load(set);
    console.log(`  reload of ${String(size).padStart(7)} ACLs: ${(performance.now() - t).toFixed(1)} ms`);
  }

  if (!args.includes('--no-postgres')) await propagation();
}

async function propagation(): Promise<void> {
  const { findPostgresBinaries, startPostgres } = await import('../test/helpers/postgres.js');
  if (findPostgresBinaries() === undefined) {
    console.log('  propagation: skipped (no PostgreSQL binaries)');
    return;
  }
  const { openMetadataStore } = await import('../metadata/index.js');
  const { AclSync } = await import('../src/security/acl-sync.js');
  const pg = await startPostgres();
  try {
    const url = await pg.createDatabase();
    const writer = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    const reader = await openMetadataStore({ databaseUrl: url, dataDir: '' });
    const seen = new Authorizer();
    const sync = new AclSync(reader, seen, { databaseUrl: url });
    await sync.start();
    const ms: number[] = [];
    for (let i = 0; i < 50; i++) {
      const b: AclBinding = { resourceType: R.TOPIC, resourceName: `p-${i}`, patternType: PatternType.LITERAL, principal: 'User:p', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW };
      const t = performance.now();
      await writer.createAcls([b]);
      while (!seen.authorize('User:p', '1.1.1.1', Op.READ, R.TOPIC, `p-${i}`)) await new Promise((r) => setTimeout(r, 1));
      ms.push(performance.now() - t);
    }
    ms.sort((x, y) => x - y);
    console.log(`  propagation on PostgreSQL (createAcls → a second agent decides with it), 50 changes: p50 ${ms[25]!.toFixed(1)} ms, p99 ${ms[49]!.toFixed(1)} ms (target < 1000 ms)`);
    await sync.close();
    await writer.close();
    await reader.close();
  } finally {
    await pg.stop();
  }
}
