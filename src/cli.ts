#!/usr/bin/env node
// The streamhouse command: `streamhouse start [flags]` runs one agent; `streamhouse settings` prints
// every setting with its default.
import { Command, Option } from 'commander';
import { SETTINGS, ConfigError, resolveConfig, settingsMarkdown, type SettingName, type SettingSpec } from './config.js';
import { createLogger } from './logger.js';
import { Agent } from './agent.js';

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

await program.parseAsync(process.argv);
