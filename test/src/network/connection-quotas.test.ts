// max.connections.per.ip and its overrides, in Kafka's `host:count` format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionQuotas, parseConnectionOverrides } from '../../../src/network/connection-quotas.js';
import { ConfigError, resolveConfig } from '../../../src/config.js';

test('overrides parse Kafka\'s host:count list; IPv4-mapped addresses count as their IPv4 address', () => {
  const o = parseConnectionOverrides(' 127.0.0.2:5, [::1]:0,10.0.0.1:2147483647 ');
  assert.deepEqual([...o], [['127.0.0.2', 5], ['::1', 0], ['10.0.0.1', 2147483647]]);
  assert.deepEqual([...parseConnectionOverrides('')], []);
  for (const bad of ['localhost:3', '127.0.0.1', '127.0.0.1:-1', '127.0.0.1:x', ':3']) {
    assert.throws(() => parseConnectionOverrides(bad), /expected|count/, bad);
  }
  const q = new ConnectionQuotas(2, o);
  assert.ok(q.tryAcquire('::ffff:127.0.0.2'));
  assert.equal(q.count('127.0.0.2'), 1);
  assert.equal(q.limitFor('::1'), 0);
  assert.equal(q.tryAcquire('::1'), false);
  assert.ok(q.tryAcquire('127.0.0.3'));
  assert.ok(q.tryAcquire('127.0.0.3'));
  assert.equal(q.tryAcquire('127.0.0.3'), false);
  q.release('127.0.0.3');
  assert.ok(q.tryAcquire('127.0.0.3'));
});

test('settings: a bad override list or a request pool smaller than 4/3 of the largest frame stop the agent at start', () => {
  assert.throws(() => resolveConfig({ maxConnectionsPerIpOverrides: 'host:3' }, {}), (e: unknown) => e instanceof ConfigError && /max-connections-per-ip-overrides/.test(e.message));
  assert.throws(() => resolveConfig({ queuedMaxRequestBytes: 100 * 1024 * 1024 }, {}), (e: unknown) => e instanceof ConfigError && /queued-max-request-bytes/.test(e.message));
  const cfg = resolveConfig({}, {});
  assert.equal(cfg.fetchMaxBytes, 57_671_680);
  assert.equal(cfg.maxConnectionsPerIp, 2 ** 31 - 1);
});
