import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ConfigError, SETTINGS, resolveConfig, settingsMarkdown } from '../../src/config.js';
import { cliPath } from '../helpers/agent.js';

test('defaults: one agent on 9092, PGlite and ./data, derived values filled in', () => {
  const cfg = resolveConfig({}, {});
  assert.equal(cfg.port, 9092);
  assert.equal(cfg.dataDir, './data');
  assert.equal(cfg.databaseUrl, '');
  assert.equal(cfg.advertisedHost, 'localhost');
  assert.equal(cfg.advertisedPort, 9092);
  assert.equal(cfg.agentId, '', 'the data directory supplies the default agent id (src/agent-identity.ts)');
  assert.equal(cfg.flushMs, 5);
  assert.equal(resolveConfig({}, { S3_BUCKET: 'b' }).flushMs, 100);
});

test('flags win over the environment, which wins over defaults', () => {
  const cfg = resolveConfig({ port: '9100' }, { STREAMHOUSE_PORT: '9200', STREAMHOUSE_NODE_ID: '7', S3_FORCE_PATH_STYLE: 'true' });
  assert.equal(cfg.port, 9100);
  assert.equal(cfg.nodeId, 7);
  assert.equal(cfg.s3ForcePathStyle, true);
});

test('a bad value is rejected with a message naming the setting', () => {
  const cases: Array<[Record<string, string>, Record<string, string>, RegExp]> = [
    [{ port: 'abc' }, {}, /port.*--port.*STREAMHOUSE_PORT.*not an integer/],
    [{}, { STREAMHOUSE_PORT: '70000' }, /port.*above the maximum 65535/],
    [{}, { DATABASE_URL: 'mysql://x' }, /database-url.*DATABASE_URL/],
    [{}, { STREAMHOUSE_AUTO_CREATE_TOPICS: 'maybe' }, /auto-create-topics.*not a boolean/],
    [{}, { STREAMHOUSE_LOG_LEVEL: 'loud' }, /log-level/],
    [{}, { S3_ENDPOINT: 'http://x' }, /s3-bucket/],
  ];
  for (const [flags, env, re] of cases) {
    assert.throws(() => resolveConfig(flags, env), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify({ flags, env }));
  }
});

test('the settings table lists every setting with its default', () => {
  const md = settingsMarkdown();
  for (const spec of Object.values(SETTINGS)) assert.ok(md.includes(`\`--${spec.flag}\``) && md.includes(`\`${spec.env}\``), spec.flag);
});

test('the CLI refuses a bad setting at start with exit code 2 and names it', () => {
  const r = spawnSync(process.execPath, [cliPath(), 'start', '--port', 'nope'], { encoding: 'utf8', env: { ...process.env } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /setting port \(--port \/ STREAMHOUSE_PORT\).*"nope" is not an integer/);
});

test('the CLI exits non-zero with a clear message when PostgreSQL is unreachable', () => {
  const r = spawnSync(process.execPath, [cliPath(), 'start', '--port', '0', '--http-port', '0', '--data-dir', '/tmp/streamhouse-unreachable-db'], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', STREAMHOUSE_DB_ACQUIRE_TIMEOUT_MS: '2000', STREAMHOUSE_LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /could not start: cannot connect to the metadata database at postgres:\/\/nobody@127\.0\.0\.1:1\/none/);
  assert.match(r.stderr, /accepts connections on 127\.0\.0\.1:1/);
});

test('the price settings default to S3 Standard us-east-1 and take decimals', () => {
  const d = resolveConfig({}, {});
  assert.deepEqual([d.pricePutPer1000, d.priceGetPer1000, d.priceStorageGbMonth], [0.005, 0.0004, 0.023]);
  const c = resolveConfig({ pricePutPer1000: '0.0054' }, { STREAMHOUSE_PRICE_GET_PER_1000: '4.3e-4' });
  assert.equal(c.pricePutPer1000, 0.0054);
  assert.equal(c.priceGetPer1000, 0.00043);
  assert.throws(() => resolveConfig({ pricePutPer1000: 'cheap' }, {}), /price-put-per-1000.*not a number/);
  assert.throws(() => resolveConfig({ priceGetPer1000: '-1' }, {}), /below the minimum 0/);
});

test('the HTTP endpoint: 9644 by default, on loopback for the embedded default, else on the Kafka host', () => {
  const embedded = resolveConfig({}, {});
  assert.equal(embedded.httpPort, 9644);
  assert.equal(embedded.httpHost, '127.0.0.1');
  assert.equal(resolveConfig({}, { DATABASE_URL: 'postgres://x/y' }).httpHost, '0.0.0.0');
  assert.equal(resolveConfig({ host: '10.0.0.5' }, { DATABASE_URL: 'postgres://x/y' }).httpHost, '10.0.0.5');
  assert.equal(resolveConfig({ httpHost: '0.0.0.0' }, {}).httpHost, '0.0.0.0');
  assert.equal(resolveConfig({ httpPort: '0' }, {}).httpPort, 0);
  assert.throws(() => resolveConfig({ httpPort: '9092' }, {}), /http-port \(9092\) must differ from port/);
  assert.equal(resolveConfig({ httpPort: '0', port: '0' }, {}).httpPort, 0);
});
