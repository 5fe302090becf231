#!/usr/bin/env node
// The streamhouse command: `streamhouse start [flags]` runs one agent; `streamhouse settings` prints
// every setting with its default; `streamhouse topics|groups|lag|agents|leases|segments|configs` are the
// admin commands (src/admin/), reading the metadata database or asking a running broker.
import { Command, InvalidArgumentError, Option } from 'commander';
import { SETTINGS, ConfigError, resolveConfig, settingsMarkdown, type SettingName, type SettingSpec } from './config.js';
import { createLogger } from './logger.js';
import { listAgents, renderAgents } from './admin/agents.js';
import { configOverview, renderConfigOverview, renderTopicConfigs, topicConfigs } from './admin/configs.js';
import { AdminError, describeFailure } from './admin/errors.js';
import { renderAcls, runAcls, type AclOptions } from './admin/acls.js';
import { describeGroup, listGroups, renderGroupDescription, renderGroupList } from './admin/groups.js';
import { collectLag, renderLag } from './admin/lag.js';
import { listLeases, renderLeases } from './admin/leases.js';
import { runAdmin, type AdminOptions } from './admin/run.js';
import { DEFAULT_SEGMENT_LIMIT, listSegments, renderSegments } from './admin/segments.js';
import { describeTopic, listTopics, renderTopicDescription, renderTopicList } from './admin/topics.js';

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const program = new Command();
program.name('streamhouse').description('A Kafka-compatible broker: record data in S3 or a local directory, metadata in PostgreSQL or PGlite.');

const start = program.command('start').description('Run one agent (a Kafka broker).');
for (const spec of Object.values(SETTINGS) as Array<SettingSpec<unknown>>) {
  const opt = spec.type === 'bool'
    ? new Option(`--${spec.flag} [value]`, `${spec.describe} (env ${spec.env})`)
    : new Option(`--${spec.flag} <value>`, `${spec.describe} (env ${spec.env})`);
  start.addOption(opt);
  if (spec.type === 'bool') start.addOption(new Option(`--no-${spec.flag}`, `Disable ${spec.flag}.`).hideHelp());
}
start.action(async (opts: Record<string, string | boolean | undefined>) => {
  const flags: Partial<Record<SettingName, string | boolean>> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as Array<[SettingName, SettingSpec<unknown>]>) {
    const v = opts[camel(spec.flag)];
    if (v !== undefined) flags[name] = v === true && spec.type === 'bool' ? true : v;
  }
  let config;
  try {
    config = resolveConfig(flags);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`streamhouse: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Loaded here, not at the top: the admin commands start faster without the agent's modules (S3 client…).
  const { Agent } = await import('./agent.js');
  const agent = new Agent(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await agent.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.fatal({ err }, 'could not start');
    console.error(`streamhouse: could not start: ${message}`);
    await agent.stop().catch(() => undefined);
    process.exit(1);
  }
});

program
  .command('settings')
  .description('Print every setting with its flag, environment variable and default.')
  .option('--markdown', 'as a Markdown table')
  .action(() => {
    console.log(settingsMarkdown());
  });

// ---- admin commands ---------------------------------------------------------------------------------

const acls = program.command('acls').description('Add, list or remove ACLs in the metadata database (`acls add|list|remove`), as kafka-acls.sh.');

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function positiveInt(value: string): number {
  const n = nonNegativeInt(value);
  if (n === 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** A command with the options every admin command shares (where to read from, --json). */
function admin(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--bootstrap-server <host:port>', 'ask a running agent (Kafka protocol); comma-separated list allowed')
    .option('--database-url <url>', 'read the PostgreSQL metadata database (default: env DATABASE_URL)')
    .option('--data-dir <dir>', 'read the embedded (PGlite) database of a stopped agent\'s data directory (default: env STREAMHOUSE_DATA_DIR)')
    .option('--json', 'machine-readable JSON instead of a table')
    .option('--timeout-ms <ms>', 'connect and request timeout', positiveInt, 10_000)
    .option('--security-protocol <protocol>', 'with --bootstrap-server: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL')
    .option('--sasl-mechanism <mechanism>', 'SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN')
    .option('--sasl-username <user>', 'SASL user')
    .option('--sasl-password <password>', 'SASL password (default: env STREAMHOUSE_SASL_PASSWORD)')
    .option('--ssl-ca-file <file>', 'PEM CA bundle for the broker certificate (default: the system CAs)');
}

type Opts = AdminOptions & Record<string, unknown>;

/** `topics [list]`, `topics describe NAME`: the action word, checked. */
function action(command: string, given: string | undefined, name: string | undefined, needsName: string): 'list' | 'describe' {
  if (given === undefined || given === 'list') {
    if (name !== undefined) throw new AdminError(`${command} list takes no argument; did you mean "${command} describe ${name}"?`, 2);
    return 'list';
  }
  if (given === 'describe') {
    if (name === undefined) throw new AdminError(`${command} describe needs ${needsName}`, 2);
    return 'describe';
  }
  throw new AdminError(`unknown action "${given}": ${command} [list] or ${command} describe ${needsName}`, 2);
}

function usageError(err: unknown): never {
  const code = err instanceof AdminError ? err.exitCode : 2;
  console.error(`streamhouse: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(code);
}

admin('topics', 'List topics (partitions, records, bytes, segments), or describe one: `topics describe NAME`.')
  .argument('[action]', 'list (default) or describe')
  .argument('[name]', 'topic name (describe)')
  .action(async (act: string | undefined, name: string | undefined, opts: Opts) => {
    let which;
    try {
      which = action('topics', act, name, 'NAME');
    } catch (err) {
      usageError(err);
    }
    if (which === 'list') await runAdmin(opts, listTopics, renderTopicList);
    else await runAdmin(opts, (t) => describeTopic(t, name!), renderTopicDescription);
  });

admin('groups', 'List consumer groups (state, protocol, members), or describe one: `groups describe ID`.')
  .argument('[action]', 'list (default) or describe')
  .argument('[id]', 'group id (describe)')
  .action(async (act: string | undefined, id: string | undefined, opts: Opts) => {
    let which;
    try {
      which = action('groups', act, id, 'ID');
    } catch (err) {
      usageError(err);
    }
    if (which === 'list') await runAdmin(opts, listGroups, renderGroupList);
    else await runAdmin(opts, (t) => describeGroup(t, id!), renderGroupDescription);
  });

admin('lag', 'Consumer lag per group and partition: committed offset, high watermark, lag.')
  .option('--group <id>', 'only this group')
  .option('--topic <name>', 'only this topic')
  .action(async (opts: Opts & { group?: string; topic?: string }) => {
    await runAdmin(opts, (t) => collectLag(t, { group: opts.group, topic: opts.topic }), renderLag);
  });

admin('agents', 'Registered agents: id, node id, address, liveness, last heartbeat, leases held.')
  .option('--live-within-ms <ms>', 'an agent is live with a heartbeat this recent (3 × the agents\' --agent-heartbeat-ms)', positiveInt, 6000)
  .action(async (opts: Opts & { liveWithinMs: number }) => {
    await runAdmin(opts, (t) => listAgents(t, { liveWithinMs: opts.liveWithinMs }), renderAgents);
  });

admin('leases', 'Partition leases and coordinator-shard leases: holder, epoch, expiry (database clock). Database only.')
  .option('--topic <name>', 'only the partition leases of this topic')
  .action(async (opts: Opts & { topic?: string }) => {
    await runAdmin(opts, (t) => listLeases(t, { topic: opts.topic }), renderLeases);
  });

admin('segments', 'Segment rows per topic-partition: offsets, records, bytes, object key. Database only.')
  .option('--topic <name>', 'only this topic')
  .option('--partition <n>', 'only this partition (with --topic)', nonNegativeInt)
  .option('--limit <n>', 'segments listed per partition', nonNegativeInt, DEFAULT_SEGMENT_LIMIT)
  .option('--from-offset <offset>', 'start at the segment holding this offset', nonNegativeInt)
  .action(async (opts: Opts & { topic?: string; partition?: number; limit: number; fromOffset?: number }) => {
    await runAdmin(opts, (t) => listSegments(t, { topic: opts.topic, partition: opts.partition, limit: opts.limit, fromOffset: opts.fromOffset }), renderSegments);
  });

admin('configs', 'Broker settings and defaults with every topic override, or all configs of one topic: `configs TOPIC`.')
  .argument('[topic]', 'topic name')
  .action(async (topic: string | undefined, opts: Opts) => {
    if (topic === undefined) await runAdmin(opts, configOverview, renderConfigOverview);
    else await runAdmin(opts, (t) => topicConfigs(t, topic), renderTopicConfigs);
  });

// ---- users (SASL credentials) -----------------------------------------------------------------------

program
  .command('users')
  .description('SASL users in the metadata database: `users create NAME`, `users list`, `users delete NAME`. Works before any agent started (the first administrator).')
  .argument('<action>', 'create, list or delete')
  .argument('[name]', 'user name (create, delete)')
  .option('--database-url <url>', 'the PostgreSQL metadata database (default: env DATABASE_URL)')
  .option('--data-dir <dir>', "a stopped embedded agent's data directory (default: env STREAMHOUSE_DATA_DIR)")
  .option('--mechanism <list>', 'create: SCRAM-SHA-256, SCRAM-SHA-512 and/or PLAIN, comma separated (a PLAIN login also checks SCRAM credentials); delete: only these', 'SCRAM-SHA-256,SCRAM-SHA-512')
  .option('--password <password>', 'create: the password (else env STREAMHOUSE_USER_PASSWORD, or --password-stdin)')
  .option('--password-stdin', 'create: read the password from standard input')
  .option('--iterations <n>', 'create: SCRAM iterations (4096-16384)', positiveInt, 4096)
  .option('--json', 'machine-readable JSON')
  .action(async (act: string, name: string | undefined, opts: Record<string, unknown>) => {
    const users = await import('./security/users.js');
    const { describeFailure } = await import('./admin/errors.js');
    try {
      const where = { databaseUrl: opts.databaseUrl as string | undefined, dataDir: opts.dataDir as string | undefined };
      let out: unknown;
      let text: string;
      if (act === 'list') {
        if (name !== undefined) throw new AdminError('users list takes no name', 2);
        const rows = await users.withCredentialStore(where, (store) => users.listUsers(store));
        out = rows;
        text = users.renderUsers(rows);
      } else if (act === 'create') {
        if (name === undefined) throw new AdminError('users create needs a user name', 2);
        const mechanisms = users.parseMechanisms(String(opts.mechanism));
        const password = opts.passwordStdin ? await users.readStdin() : ((opts.password as string | undefined) ?? process.env.STREAMHOUSE_USER_PASSWORD);
        if (password === undefined) throw new AdminError('users create needs --password, STREAMHOUSE_USER_PASSWORD or --password-stdin', 2);
        out = await users.withCredentialStore(where, (store) => users.createUser(store, name, password, mechanisms, Number(opts.iterations)));
        text = `created ${name} (${mechanisms.join(', ')})`;
      } else if (act === 'delete') {
        if (name === undefined) throw new AdminError('users delete needs a user name', 2);
        const explicit = process.argv.some((a) => a === '--mechanism' || a.startsWith('--mechanism='));
        const deleted = await users.withCredentialStore(where, async (store) => {
          if (!explicit) return store.deleteUser(name);
          const done: string[] = [];
          for (const m of users.parseMechanisms(String(opts.mechanism))) if (await store.delete(name, m)) done.push(m);
          return done;
        });
        if (deleted.length === 0) throw new AdminError(`no credentials of user ${name}`, 1);
        out = { user: name, deleted };
        text = `deleted ${name} (${deleted.join(', ')})`;
      } else {
        throw new AdminError(`unknown action "${act}": users create NAME | users list | users delete NAME`, 2);
      }
      process.stdout.write(opts.json ? `${JSON.stringify(out, null, 2)}\n` : `${text}\n`);
      process.exit(0);
    } catch (err) {
      const { message, exitCode } = describeFailure(err);
      process.stderr.write(`streamhouse: ${message}\n`);
      process.exit(exitCode);
    }
  });

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
for (const act of ['add', 'list', 'remove'] as const) {
  const cmd = acls
    .command(act)
    .description(
      act === 'add'
        ? 'Add ACLs: every --allow-principal/--deny-principal × host × --operation on one resource.'
        : act === 'list'
          ? 'List ACLs (every option narrows the list).'
          : 'Remove every ACL matching the options (a resource or a principal is required).',
    )
    .option('--bootstrap-server <host:port>', 'through a running agent (CreateAcls/DescribeAcls/DeleteAcls; needs ALTER or DESCRIBE on the cluster)')
    .option('--timeout-ms <ms>', 'connect and request timeout (--bootstrap-server)', positiveInt, 10_000)
    .option('--database-url <url>', 'the PostgreSQL metadata database (default: env DATABASE_URL)')
    .option('--data-dir <dir>', 'the embedded (PGlite) database of a stopped agent\'s data directory (default: env STREAMHOUSE_DATA_DIR)')
    .option('--allow-principal <principal>', 'User:NAME allowed (repeatable)', collect)
    .option('--deny-principal <principal>', 'User:NAME denied (repeatable)', collect)
    .option('--allow-host <ip>', 'host of the allow ACLs (default *; repeatable)', collect)
    .option('--deny-host <ip>', 'host of the deny ACLs (default *; repeatable)', collect)
    .option('--operation <op>', 'all, read, write, create, delete, alter, describe, cluster_action, describe_configs, alter_configs, idempotent_write (repeatable, or comma-separated)', collect)
    .option('--topic <name>', 'a topic (`*`: every topic)')
    .option('--group <id>', 'a consumer group (`*`: every group)')
    .option('--cluster', 'the cluster (kafka-cluster)')
    .option('--transactional-id <id>', 'a transactional id')
    .option('--resource-pattern-type <type>', 'literal (default for add) or prefixed; list/remove also any (default) or match')
    .option('--json', 'machine-readable JSON instead of a table');
  if (act !== 'add') cmd.option('--principal <principal>', 'only ACLs of this principal');
  cmd.action(async (opts: AclOptions) => {
    let code = 0;
    try {
      const r = await runAcls(act, opts);
      console.log(opts.json ? JSON.stringify(r, null, 2) : `${renderAcls(r.acls)}\n${r.message}`);
    } catch (err) {
      const { message, exitCode } = describeFailure(err);
      console.error(`streamhouse: ${message}`);
      code = exitCode;
    }
    process.exit(code);
  });
}

await program.parseAsync(process.argv);
