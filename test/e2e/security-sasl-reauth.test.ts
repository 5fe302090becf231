// Re-authentication (KIP-368) end to end, on both configurations, with connections.max.reauth.ms
// of 2 s: SaslAuthenticate v1+ tells the session lifetime; a client that re-authenticates in band
// keeps its connection (over the wire, and kafkajs producing across several lifetimes); the first
// request after an expired session that is not a re-authentication closes the connection. On
// PostgreSQL, a user created through one agent logs in at a second agent at once, and is refused there
// once deleted through the first (credentials are read from the database at each login); that second
// agent's Metadata names both agents by the addresses of their SASL listeners.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import '../helpers/node22-shims.js';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { freePort } from '../helpers/ports.js';
import { RawClient } from '../helpers/raw-client.js';
import { saltedPassword } from '../../src/security/scram.js';

const { Kafka, logLevel } = kafkajs;
const REAUTH_MS = 2000;
const METADATA = { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createUser(port: number, name: string, password: string): Promise<void> {
  const c = await RawClient.connect(port);
  const salt = Buffer.from(`${name}-salt`);
  const res = await c.request(ApiKey.AlterUserScramCredentials, 0, {
    deletions: [],
    upsertions: [{ name, mechanism: 2, iterations: 4096, salt, saltedPassword: saltedPassword('SCRAM-SHA-512', password, salt, 4096) }],
  });
  c.close();
  assert.equal(res.results[0]!.errorCode, ErrorCode.NONE);
}

async function plainLogin(port: number, user: string, password: string, version = 2) {
  const c = await RawClient.connect(port);
  assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
  const auth = await c.request(ApiKey.SaslAuthenticate, version, { authBytes: Buffer.from(`\u0000${user}\u0000${password}`) });
  return { c, auth };
}

for (const backendName of BACKENDS) {
  describe(`SASL re-authentication and credential changes (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let second: AgentHandle | undefined;
    const ports = { plain: 0, sasl: 0, plain2: 0, sasl2: 0 };
    const listeners = (plain: number, sasl: number) => ['--listeners', `PLAINTEXT://127.0.0.1:${plain},SASL_PLAINTEXT://127.0.0.1:${sasl}`, '--connections-max-reauth-ms', String(REAUTH_MS)];

    before(async () => {
      backend = await startBackend(backendName);
      for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
      agent = await startAgent({ env: backend.env, port: ports.plain, args: listeners(ports.plain, ports.sasl) });
      await createUser(ports.plain, 'reauth', 'reauth-pw');
    });

    after(async () => {
      await second?.stop();
      await agent?.stop();
      await backend?.stop();
    });

    test('the session lifetime is told; re-authenticating in band keeps the connection; an expired session closes it', async () => {
      const { c, auth } = await plainLogin(ports.sasl, 'reauth', 'reauth-pw');
      assert.equal(auth.errorCode, ErrorCode.NONE);
      assert.equal(Number(auth.sessionLifetimeMs), REAUTH_MS);
      assert.ok((await c.request(ApiKey.Metadata, 9, METADATA)).brokers.length >= 1);
      // Re-authenticate (same principal and mechanism) before the session ends.
      assert.equal((await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, ErrorCode.NONE);
      const again = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000reauth\u0000reauth-pw') });
      assert.equal(again.errorCode, ErrorCode.NONE);
      assert.ok((await c.request(ApiKey.Metadata, 9, METADATA)).brokers.length >= 1);
      // Let the new session lapse: the next request that is not a re-authentication closes the connection.
      await sleep(REAUTH_MS + 300);
      await assert.rejects(c.request(ApiKey.Metadata, 9, METADATA), /connection closed/);
      assert.equal(c.closed, true);
    });

    test('re-authenticating as another user fails and closes the connection', async () => {
      await createUser(ports.plain, 'other', 'other-pw');
      const { c } = await plainLogin(ports.sasl, 'reauth', 'reauth-pw');
      await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
      const res = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0000other\u0000other-pw') });
      assert.equal(res.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
      assert.match(res.errorMessage ?? '', /Cannot change principals during re-authentication/);
      assert.equal(await c.nextFrame(), undefined);
    });

    test('kafkajs re-authenticates by itself and keeps producing across several session lifetimes', async () => {
      const kafka = new Kafka({
        clientId: 'reauth',
        brokers: [`127.0.0.1:${ports.sasl}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        reauthenticationThreshold: 1000,
        sasl: { mechanism: 'scram-sha-512', username: 'reauth', password: 'reauth-pw' },
      });
      const producer = kafka.producer();
      await producer.connect();
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < 3 * REAUTH_MS) {
        await producer.send({ topic: 'reauth-topic', messages: [{ value: `m${sent}` }] });
        sent++;
        await sleep(200);
      }
      await producer.disconnect();
      const c = await RawClient.connect(ports.plain);
      const offsets = await c.request(ApiKey.ListOffsets, 1, { replicaId: -1, topics: [{ name: 'reauth-topic', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] });
      c.close();
      assert.equal(Number(offsets.topics[0]!.partitions[0]!.offset), sent);
    });

    if (backendName === 'postgres+s3') {
      test('a user created through one agent logs in at another at once, and is refused there once deleted', async () => {
        second = await startAgent({ env: backend.env, port: ports.plain2, args: listeners(ports.plain2, ports.sasl2) });
        await createUser(ports.plain, 'roaming', 'roaming-pw');
        const { c, auth } = await plainLogin(ports.sasl2, 'roaming', 'roaming-pw');
        assert.equal(auth.errorCode, ErrorCode.NONE);
        // Both agents, each with the address of its SASL listener (the listener this client came in on).
        const md = await c.request(ApiKey.Metadata, 9, METADATA);
        assert.deepEqual(md.brokers.map((b) => b.port).sort(), [ports.sasl, ports.sasl2].sort());
        c.close();
        const admin = await RawClient.connect(ports.plain);
        const del = await admin.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [{ name: 'roaming', mechanism: 2 }], upsertions: [] });
        admin.close();
        assert.equal(del.results[0]!.errorCode, ErrorCode.NONE);
        const refused = await plainLogin(ports.sasl2, 'roaming', 'roaming-pw');
        assert.equal(refused.auth.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED);
        refused.c.close();
      });
    }
  });
}
