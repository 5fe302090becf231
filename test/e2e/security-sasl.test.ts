// Authentication end to end, on both configurations: one agent with four listeners (PLAINTEXT,
// SASL_PLAINTEXT, SASL_SSL, SSL; certificates made by openssl at test time) and users created with
// `streamhouse users` before it starts. kafkajs (PLAIN, SCRAM-SHA-256/512, SSL), kcat, confluent-kafka
// (Debian's librdkafka 2.0.2) and node-rdkafka over SASL_SSL with SCRAM-SHA-512 and SASL_PLAINTEXT
// with PLAIN, and @platformatic/kafka with SASL, write records and read them back. A wrong password is
// SASL_AUTHENTICATION_FAILED with Kafka's message and the connection closes; a request before
// authentication on a SASL listener (or a frame over 512 KiB before it) closes the connection unanswered; each listener advertises its
// own address; AlterUserScramCredentials creates a user who can then log in; a replaced certificate
// is served to new connections without a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { Consumer as PlatformaticConsumer, Producer as PlatformaticProducer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { startAgent, cliPath, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { kcat, parseJsonLines } from '../helpers/kcat.js';
import { freePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';
import { scrape, value } from '../helpers/metrics.js';
import { runClient } from '../helpers/run-client.js';
import { spawnTracked } from '../helpers/reaper.js';
import { RdProducer, connectConsumer, consumeRecords, disconnect } from '../helpers/rdkafka.js';
import { saltedPassword } from '../../src/security/scram.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { Kafka, logLevel } = kafkajs;
const PASSWORD = 'admin-secret';

const PY = `
import json, sys
from confluent_kafka import Producer, Consumer
conf = json.loads(sys.argv[1]); topic = sys.argv[2]
p = Producer(dict(conf, **{"linger.ms": 2}))
errors = []
for i in range(5):
    p.produce(topic, value=("py-%d" % i).encode(), partition=0, on_delivery=lambda err, m: errors.append(str(err)) if err else None)
left = p.flush(30)
c = Consumer(dict(conf, **{"group.id": "py-" + topic, "auto.offset.reset": "earliest"}))
c.assign([__import__("confluent_kafka").TopicPartition(topic, 0, 0)])
got = []
import time
deadline = time.time() + 30
while len(got) < 5 and time.time() < deadline:
    m = c.poll(0.5)
    if m is None: continue
    if m.error(): errors.append(str(m.error())); continue
    got.append(m.value().decode())
c.close()
print(json.dumps({"errors": errors, "left": left, "got": got}))
`;

function python(conf: Record<string, string>, topic: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked('/usr/bin/python3', ['-c', PY, JSON.stringify(conf), topic], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function users(args: string[], env: Record<string, string>): Promise<void> {
  const r = await runClient('node', [cliPath(), 'users', ...args], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `users ${args.join(' ')}: ${r.stderr}`);
}

for (const backendName of BACKENDS) {
  describe(`SASL and TLS listeners (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let certs: TestCerts;
    const port = { plain: 0, saslPlain: 0, saslSsl: 0, ssl: 0 };

    before(async () => {
      certs = makeCerts();
      backend = await startBackend(backendName);
      for (const k of Object.keys(port) as Array<keyof typeof port>) port[k] = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), 'streamhouse-sasl-'));
      // The first users exist before the agent starts (the database is created and migrated by the CLI).
      const where = backend.env.DATABASE_URL ? ['--database-url', backend.env.DATABASE_URL] : ['--data-dir', dataDir];
      await users(['create', 'admin', '--password', PASSWORD, '--mechanism', 'SCRAM-SHA-256,SCRAM-SHA-512', ...where], {});
      await users(['create', 'plainuser', '--password', 'plain-secret', '--mechanism', 'PLAIN', ...where], {});
      agent = await startAgent({
        env: backend.env,
        dataDir,
        cleanup: true,
        port: port.plain,
        args: [
          '--listeners',
          `PLAINTEXT://127.0.0.1:${port.plain},SASL_PLAINTEXT://127.0.0.1:${port.saslPlain},SASL_SSL://127.0.0.1:${port.saslSsl},SSL://127.0.0.1:${port.ssl}`,
          '--advertised-listeners',
          `PLAINTEXT://127.0.0.1:${port.plain},SASL_PLAINTEXT://127.0.0.1:${port.saslPlain},SASL_SSL://localhost:${port.saslSsl},SSL://localhost:${port.ssl}`,
          '--ssl-cert-file', certs.certFile,
          '--ssl-key-file', certs.keyFile,
          '--ssl-ca-file', certs.caFile,
          '--ssl-reload-interval-ms', '200',
        ],
      });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
      certs?.cleanup();
    });

    const saslSsl = () => `localhost:${port.saslSsl}`;
    const saslPlain = () => `127.0.0.1:${port.saslPlain}`;

    async function kafkajsRoundTrip(topic: string, opts: Record<string, unknown>, broker: string): Promise<void> {
      const kafka = new Kafka({ clientId: 'sasl-e2e', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 2 }, ...opts });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k1', value: 'v1' }, { key: 'k2', value: 'v2' }] });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `g-${topic}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer.run({ eachMessage: async ({ message }) => {
          got.push(String(message.value));
          if (got.length === 2) resolve();
        } }).catch(reject);
      });
      await consumer.disconnect();
      assert.deepEqual(got, ['v1', 'v2']);
    }

    test('kafkajs: SASL_PLAINTEXT with PLAIN (own hash and SCRAM credential), SCRAM-SHA-256 and SCRAM-SHA-512; SASL_SSL with SCRAM-SHA-512; SSL', async () => {
      await kafkajsRoundTrip('kjs-plain', { sasl: { mechanism: 'plain', username: 'plainuser', password: 'plain-secret' } }, saslPlain());
      await kafkajsRoundTrip('kjs-plain-scram-cred', { sasl: { mechanism: 'plain', username: 'admin', password: PASSWORD } }, saslPlain());
      await kafkajsRoundTrip('kjs-scram256', { sasl: { mechanism: 'scram-sha-256', username: 'admin', password: PASSWORD } }, saslPlain());
      await kafkajsRoundTrip('kjs-scram512', { sasl: { mechanism: 'scram-sha-512', username: 'admin', password: PASSWORD } }, saslPlain());
      await kafkajsRoundTrip('kjs-ssl-scram512', { ssl: { ca: [certs.ca] }, sasl: { mechanism: 'scram-sha-512', username: 'admin', password: PASSWORD } }, saslSsl());
      await kafkajsRoundTrip('kjs-ssl', { ssl: { ca: [certs.ca] } }, `localhost:${port.ssl}`);
    });

    test('kafkajs: a wrong password is a SASL authentication error with Kafka\'s message', async () => {
      for (const [mechanism, message] of [
        ['plain', 'Authentication failed: Invalid username or password'],
        ['scram-sha-512', 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'],
      ] as const) {
        const kafka = new Kafka({ clientId: 'sasl-e2e', brokers: [saslPlain()], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism, username: 'admin', password: 'wrong' } as never });
        const admin = kafka.admin();
        await assert.rejects(admin.connect(), (err: Error) => {
          assert.equal(err.name, 'KafkaJSSASLAuthenticationError', String(err));
          assert.match(err.message, new RegExp(message));
          return true;
        });
        await admin.disconnect();
      }
    });

    test('wire: SASL_AUTHENTICATION_FAILED then the connection closes; a request before authentication closes the connection unanswered', async () => {
      const c = await RawClient.connect(port.saslPlain);
      const versions = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
      assert.equal(versions.errorCode, ErrorCode.NONE);
      assert.ok(versions.apiKeys.some((k) => k.apiKey === ApiKey.SaslAuthenticate && k.maxVersion === 2));
      const hs = await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
      assert.equal(hs.errorCode, ErrorCode.NONE);
      assert.deepEqual([...hs.mechanisms].sort(), ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
      const auth = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000admin\u0000nope') });
      assert.equal(auth.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
      assert.equal(auth.errorMessage, 'Authentication failed: Invalid username or password');
      assert.equal(await c.nextFrame(), undefined, 'closed after the failure');

      const u = await RawClient.connect(port.saslPlain);
      await assert.rejects(u.request(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }), /connection closed/);
      assert.equal(u.closed, true);

      const m = await RawClient.connect(port.saslPlain);
      const bad = await m.request(ApiKey.SaslHandshake, 1, { mechanism: 'GSSAPI' });
      assert.equal(bad.errorCode, ErrorCode.UNSUPPORTED_SASL_MECHANISM);
      assert.equal(await m.nextFrame(), undefined, 'closed after an unsupported mechanism');

      // SASL v0: a v0 handshake is followed by a bare token, answered with a bare (empty) token.
      const v0 = await RawClient.connect(port.saslPlain);
      assert.equal((await v0.request(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
      const token = Buffer.from(`\u0000admin\u0000${PASSWORD}`);
      const size = Buffer.alloc(4);
      size.writeInt32BE(token.length);
      v0.writeRaw(Buffer.concat([size, token]));
      assert.deepEqual(await v0.nextFrame(), Buffer.alloc(0));
      const md = await v0.request(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.ok(md.brokers.length >= 1);
      // Before authentication no frame above Kafka's sasl.server.max.receive.size (512 KiB) is taken.
      const big = await RawClient.connect(port.saslPlain);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(1024 * 1024);
      big.writeRaw(Buffer.concat([prefix, Buffer.alloc(1024)]));
      assert.equal(await big.nextFrame(), undefined, 'closed');
      for (const x of [c, u, m, v0, big]) x.close();
      const samples = await scrape(agent.httpUrl!);
      assert.ok(value(samples, 'streamhouse_authentications_total', { listener: 'SASL_PLAINTEXT', mechanism: 'PLAIN', result: 'failure' }) >= 1);
      assert.ok(value(samples, 'streamhouse_authentications_total', { listener: 'SASL_PLAINTEXT', mechanism: 'PLAIN', result: 'success' }) >= 1);
    });

    test('each listener advertises its own address in Metadata, FindCoordinator and DescribeCluster', async () => {
      const plain = await RawClient.connect(port.plain);
      const md = await plain.request(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.deepEqual(md.brokers.map((b) => [b.host, b.port]), [['127.0.0.1', port.plain]]);
      plain.close();

      const s = await RawClient.connect(port.saslPlain);
      await s.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
      assert.equal((await s.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from(`\u0000admin\u0000${PASSWORD}`) })).errorCode, ErrorCode.NONE);
      const md2 = await s.request(ApiKey.Metadata, 9, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.deepEqual(md2.brokers.map((b) => [b.host, b.port]), [['127.0.0.1', port.saslPlain]]);
      const fc = await s.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g-adv'] });
      assert.deepEqual(fc.coordinators!.map((x) => [x.errorCode, x.host, x.port]), [[ErrorCode.NONE, '127.0.0.1', port.saslPlain]]);
      const dc = await s.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false });
      assert.deepEqual(dc.brokers.map((b) => [b.host, b.port]), [['127.0.0.1', port.saslPlain]]);
      s.close();
    });

    test('kcat over SASL_SSL with SCRAM-SHA-512 and over SASL_PLAINTEXT with PLAIN; a wrong password fails', async () => {
      const ssl = ['-b', saslSsl(), '-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=admin', '-X', `sasl.password=${PASSWORD}`, '-X', `ssl.ca.location=${certs.caFile}`];
      const plain = ['-b', saslPlain(), '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=plainuser', '-X', 'sasl.password=plain-secret'];
      for (const [name, conn] of [['kcat-ssl', ssl], ['kcat-plain', plain]] as const) {
        const p = await kcat([...conn, '-P', '-t', name, '-p', '0', '-X', 'linger.ms=0'], { input: 'a\nb\nc\n' });
        assert.equal(p.code, 0, p.stderr);
        const r = await kcat([...conn, '-C', '-t', name, '-p', '0', '-o', 'beginning', '-c', '3', '-e', '-J']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(parseJsonLines(r.stdout).map((m) => m.payload), ['a', 'b', 'c']);
      }
      const bad = await kcat(['-b', saslPlain(), '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=admin', '-X', 'sasl.password=wrong', '-L', '-m', '3']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/);
    });

    test('confluent-kafka (librdkafka 2.0.2) over SASL_SSL with SCRAM-SHA-512 and over SASL_PLAINTEXT with PLAIN', async () => {
      const confs: Array<[string, Record<string, string>]> = [
        ['py-ssl', { 'bootstrap.servers': saslSsl(), 'security.protocol': 'SASL_SSL', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'admin', 'sasl.password': PASSWORD, 'ssl.ca.location': certs.caFile }],
        ['py-plain', { 'bootstrap.servers': saslPlain(), 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'plainuser', 'sasl.password': 'plain-secret' }],
      ];
      for (const [topic, conf] of confs) {
        const r = await python(conf, topic);
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { errors: string[]; left: number; got: string[] };
        assert.deepEqual(out, { errors: [], left: 0, got: ['py-0', 'py-1', 'py-2', 'py-3', 'py-4'] });
      }
    });

    test('node-rdkafka over SASL_SSL with SCRAM-SHA-512 and over SASL_PLAINTEXT with PLAIN', async () => {
      const confs: Array<[string, Record<string, string>]> = [
        ['rd-ssl', { 'metadata.broker.list': saslSsl(), 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'admin', 'sasl.password': PASSWORD, 'ssl.ca.location': certs.caFile }],
        ['rd-plain', { 'metadata.broker.list': saslPlain(), 'security.protocol': 'sasl_plaintext', 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'plainuser', 'sasl.password': 'plain-secret' }],
      ];
      for (const [topic, conf] of confs) {
        const p = await RdProducer.connect(conf);
        for (let i = 0; i < 3; i++) await p.produce(topic, 0, `rd-${i}`);
        await p.disconnect();
        const c = await connectConsumer({ ...conf, 'group.id': `g-${topic}`, 'enable.auto.commit': false }, { 'auto.offset.reset': 'earliest' });
        c.assign([{ topic, partition: 0, offset: 0 }]);
        const msgs = await consumeRecords(c, 3);
        await disconnect(c);
        assert.deepEqual(msgs.map((m) => String(m.value)), ['rd-0', 'rd-1', 'rd-2']);
      }
    });

    test('@platformatic/kafka with SASL PLAIN and SCRAM-SHA-256', async () => {
      for (const [topic, sasl] of [
        ['pl-plain', { mechanism: 'PLAIN', username: 'plainuser', password: 'plain-secret' }],
        ['pl-scram', { mechanism: 'SCRAM-SHA-256', username: 'admin', password: PASSWORD }],
      ] as const) {
        const producer = new PlatformaticProducer({ clientId: 'sasl-pl', bootstrapBrokers: [saslPlain()], serializers: stringSerializers, autocreateTopics: true, sasl: { ...sasl } });
        const res = await producer.send({ messages: [{ topic, key: 'k', value: 'pl-1', partition: 0 }], acks: -1 });
        await producer.close();
        assert.equal(res.offsets?.[0]?.offset, 0n);
        const consumer = new PlatformaticConsumer({ clientId: 'sasl-pl', groupId: `g-${topic}`, bootstrapBrokers: [saslPlain()], deserializers: stringDeserializers, sasl: { ...sasl } });
        const stream = await consumer.consume({ topics: [topic], mode: 'earliest' } as never);
        let value: string | undefined;
        for await (const m of stream) {
          value = m.value as string;
          break;
        }
        await stream.close();
        await consumer.close();
        assert.equal(value, 'pl-1');
      }
    });

    test('AlterUserScramCredentials creates a user who can log in; DescribeUserScramCredentials lists it; deleting it ends its logins', async () => {
      const c = await RawClient.connect(port.plain);
      const salt = Buffer.from('bob-salt-0123456789');
      const res = await c.request(ApiKey.AlterUserScramCredentials, 0, {
        deletions: [{ name: 'nobody', mechanism: 1 }],
        upsertions: [
          { name: 'bob', mechanism: 1, iterations: 8192, salt, saltedPassword: saltedPassword('SCRAM-SHA-256', 'bob-pw', salt, 8192) },
          { name: 'carol', mechanism: 2, iterations: 100, salt, saltedPassword: Buffer.alloc(64) },
        ],
      });
      assert.deepEqual(
        res.results.map((r) => [r.user, r.errorCode]),
        [['nobody', ErrorCode.RESOURCE_NOT_FOUND], ['bob', ErrorCode.NONE], ['carol', ErrorCode.UNACCEPTABLE_CREDENTIAL]],
      );
      const d = await c.request(ApiKey.DescribeUserScramCredentials, 0, { users: [{ name: 'bob' }, { name: 'carol' }] });
      assert.deepEqual(d.results.map((r) => [r.user, r.errorCode, r.credentialInfos.map((i) => [i.mechanism, i.iterations])]), [
        ['bob', ErrorCode.NONE, [[1, 8192]]],
        ['carol', ErrorCode.RESOURCE_NOT_FOUND, []],
      ]);
      await kafkajsRoundTrip('kjs-bob', { sasl: { mechanism: 'scram-sha-256', username: 'bob', password: 'bob-pw' } }, saslPlain());
      const del = await c.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [{ name: 'bob', mechanism: 1 }], upsertions: [] });
      assert.equal(del.results[0]!.errorCode, ErrorCode.NONE);
      const kafka = new Kafka({ clientId: 'sasl-e2e', brokers: [saslPlain()], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'scram-sha-256', username: 'bob', password: 'bob-pw' } });
      const admin = kafka.admin();
      await assert.rejects(admin.connect(), /SASL/);
      await admin.disconnect();
      c.close();
    });

    test('the admin commands log in over SASL_SSL (--bootstrap-server with --security-protocol); a wrong password exits 1', async () => {
      const admin = (password: string) =>
        runClient('node', [cliPath(), 'topics', '--bootstrap-server', saslSsl(), '--security-protocol', 'SASL_SSL', '--sasl-username', 'admin', '--sasl-password', password, '--ssl-ca-file', certs.caFile], { timeoutMs: 60_000 });
      const ok = await admin(PASSWORD);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^kjs-ssl-scram512 /m);
      const bad = await admin('wrong');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /SASL authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/);
    });

    test('a replaced certificate is served to new connections without a restart', async () => {
      const serialOf = () =>
        new Promise<string>((resolve, reject) => {
          const s = tlsConnect({ host: '127.0.0.1', port: port.ssl, ca: certs.ca, servername: 'localhost' }, () => {
            resolve(s.getPeerCertificate().serialNumber.toUpperCase());
            s.destroy();
          });
          s.on('error', reject);
        });
      const first = await serialOf();
      const reissued = certs.reissueServer().replace(/^serial=/, '').toUpperCase();
      assert.notEqual(reissued, first);
      let now = first;
      for (let i = 0; i < 100 && now !== reissued; i++) {
        await new Promise((r) => setTimeout(r, 100));
        now = await serialOf();
      }
      assert.equal(now, reissued);
    });
  });
}
