// Listener settings in Kafka's syntax, per-listener advertised addresses, and TLS listeners: the
// subject of a verified client certificate becomes the principal (`User:CN=...` as Kafka's default
// mapping); with ssl.client.auth=required a client without a certificate does not get in.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ConfigError, resolveConfig } from '../../../src/config.js';
import { endpointFor, formatEndpoints, resolveListeners } from '../../../src/network/listeners.js';
import { KafkaServer, type ConnectionInfo } from '../../../src/network/server.js';
import { TlsContextSource } from '../../../src/network/tls.js';
import { createLogger } from '../../../src/logger.js';
import { makeCerts } from '../../helpers/certs.js';

const base = { listeners: '', advertisedListeners: '', listenerSecurityProtocolMap: '', host: '0.0.0.0', port: 9092, advertisedHost: 'localhost', advertisedPort: 9092 };

test('listeners: Kafka syntax, names mapped to protocols, advertised per name; the old host/port settings are the default listener', () => {
  assert.deepEqual(resolveListeners(base), [{ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '0.0.0.0', port: 9092, advertisedHost: 'localhost', advertisedPort: 9092 }]);
  const l = resolveListeners({
    ...base,
    listeners: 'PLAINTEXT://:9092,SASL_SSL://10.0.0.5:9094,INTERNAL://[::1]:9095',
    advertisedListeners: 'SASL_SSL://broker.example.com:443',
    listenerSecurityProtocolMap: 'INTERNAL:SASL_PLAINTEXT',
  });
  assert.deepEqual(l.map((x) => [x.name, x.securityProtocol, x.host, x.port, x.advertisedHost, x.advertisedPort]), [
    ['PLAINTEXT', 'PLAINTEXT', '0.0.0.0', 9092, 'localhost', 9092],
    ['SASL_SSL', 'SASL_SSL', '10.0.0.5', 9094, 'broker.example.com', 443],
    ['INTERNAL', 'SASL_PLAINTEXT', '::1', 9095, '::1', 9095],
  ]);
  const text = formatEndpoints(l.map((x) => ({ name: x.name, host: x.advertisedHost, port: x.advertisedPort })));
  assert.equal(text, 'PLAINTEXT://localhost:9092,SASL_SSL://broker.example.com:443,INTERNAL://[::1]:9095');
  const broker = { host: 'localhost', port: 9092, listeners: text };
  assert.deepEqual(endpointFor(broker, 'SASL_SSL'), { host: 'broker.example.com', port: 443 });
  assert.deepEqual(endpointFor(broker, 'INTERNAL'), { host: '::1', port: 9095 });
  assert.deepEqual(endpointFor(broker, 'OTHER'), { host: 'localhost', port: 9092 }, 'a listener the broker lacks: its default address');
  assert.deepEqual(endpointFor({ host: 'h', port: 1 }, 'SASL_SSL'), { host: 'h', port: 1 });
  for (const [bad, why] of [
    [{ listeners: 'FOO://:1' }, /neither a security protocol/],
    [{ listeners: 'PLAINTEXT://:1,PLAINTEXT://:2' }, /appears twice/],
    [{ listeners: 'PLAINTEXT://:1,SSL://:1' }, /bind/],
    [{ listeners: 'PLAINTEXT:9092' }, /NAME:\/\/host:port/],
    [{ listeners: 'PLAINTEXT://:1', advertisedListeners: 'SSL://x:2' }, /not one of the listeners/],
    [{ listeners: 'X://:1', listenerSecurityProtocolMap: 'X:TLS' }, /NAME:PROTOCOL/],
  ] as const) {
    assert.throws(() => resolveListeners({ ...base, ...bad }), why);
  }
});

test('settings: TLS listeners need certificate files; bad client auth and mechanisms are refused at start', () => {
  assert.throws(() => resolveConfig({ listeners: 'SSL://:9093' }, {}), (e: unknown) => e instanceof ConfigError && /ssl-cert-file/.test(e.message));
  assert.throws(() => resolveConfig({ sslClientAuth: 'maybe' }, {}), /ssl-client-auth/);
  assert.throws(() => resolveConfig({ sslClientAuth: 'required' }, {}), /ssl-ca-file/);
  assert.throws(() => resolveConfig({ saslEnabledMechanisms: 'GSSAPI' }, {}), /sasl-enabled-mechanisms/);
  assert.equal(resolveConfig({}, {}).listeners, '');
});

const certs = makeCerts();
after(() => certs.cleanup());

async function tlsServer(clientAuth: 'required' | 'requested') {
  const seen: ConnectionInfo[] = [];
  const log = createLogger('silent');
  const tls = new TlsContextSource({ certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, clientAuth }, log);
  const server = new KafkaServer(
    { handleFrame: (_f, conn) => (seen.push(conn), []) },
    { maxFrameBytes: 1 << 20, maxConnections: 10, connectionsMaxIdleMs: 60_000, maxInflightBytes: 1 << 20, queuedMaxRequestBytes: 8 << 20, maxConnectionsPerIp: 10, requestReceiveTimeoutMs: 30_000 },
    log,
  );
  const addr = await server.listen(0, '127.0.0.1', { name: 'SSL', securityProtocol: 'SSL' }, tls);
  return { server, seen, port: addr.port };
}

function send(port: number, withCert: boolean): Promise<'sent' | 'refused'> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: certs.ca,
      servername: 'localhost',
      ...(withCert ? { cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) } : {}),
    });
    s.on('secureConnect', () => {
      const frame = Buffer.alloc(4 + 12);
      frame.writeInt32BE(12);
      frame.writeInt16BE(18, 4);
      s.write(frame, () => setTimeout(() => (s.destroy(), resolve('sent')), 100));
    });
    s.on('error', () => resolve('refused'));
  });
}

test('TLS: a verified client certificate names the principal; required refuses a client without one', async () => {
  const req = await tlsServer('required');
  assert.equal(await send(req.port, true), 'sent');
  assert.equal(req.seen[0]!.principal, 'User:CN=client,O=StreamHouse');
  assert.equal(req.seen[0]!.listener?.name, 'SSL');
  await send(req.port, false);
  assert.equal(req.seen.length, 1, 'no request got through without a certificate');
  await req.server.shutdown(100);

  const opt = await tlsServer('requested');
  assert.equal(await send(opt.port, false), 'sent');
  assert.equal(opt.seen[0]!.principal, 'User:ANONYMOUS');
  await opt.server.shutdown(100);
});
