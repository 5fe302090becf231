// SASL principals meet ACLs, on both configurations: a kafkajs producer logged in as User:alice over
// SASL_PLAINTEXT (SCRAM-SHA-512) is refused with TOPIC_AUTHORIZATION_FAILED until an administrator
// grants WRITE on the topic through CreateAcls; then it produces. On PostgreSQL the grant is made at one
// agent and used at a second. The PLAINTEXT loopback listener is the administrator's (super user
// User:ANONYMOUS), the SASL listener everyone else's.
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

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

async function createUser(port: number, name: string, password: string): Promise<void> {
  const c = await RawClient.connect(port);
  const salt = Buffer.from(`${name}-salt-0123456789`);
  const res = await c.request(ApiKey.AlterUserScramCredentials, 0, {
    deletions: [],
    upsertions: [{ name, mechanism: 2, iterations: 4096, salt, saltedPassword: saltedPassword('SCRAM-SHA-512', password, salt, 4096) }],
  });
  c.close();
  assert.equal(res.results[0]!.errorCode, ErrorCode.NONE);
}

for (const backendName of BACKENDS) {
  describe(`SASL principals and ACLs (${backendName})`, () => {
    let backend: Backend;
    const agents: AgentHandle[] = [];
    const ports: Array<{ plain: number; sasl: number }> = [];
    const args = (p: { plain: number; sasl: number }) => [
      '--listeners', `PLAINTEXT://127.0.0.1:${p.plain},SASL_PLAINTEXT://127.0.0.1:${p.sasl}`,
      '--authorizer', 'true', '--super-users', 'User:ANONYMOUS',
    ];

    before(async () => {
      backend = await startBackend(backendName);
      // Embedded: one agent per data directory; PostgreSQL: a second agent sees the first's grants.
      for (let i = 0; i < (backendName === 'embedded' ? 1 : 2); i++) {
        const p = { plain: await freePort(), sasl: await freePort() };
        ports.push(p);
        agents.push(await startAgent({ env: backend.env, port: p.plain, args: args(p) }));
      }
      await createUser(ports[0]!.plain, 'alice', 'alice-secret');
    });

    after(async () => {
      for (const a of agents.reverse()) await a.stop();
      await backend?.stop();
    });

    test('alice is refused TOPIC_AUTHORIZATION_FAILED, then produces once WRITE is granted through CreateAcls', async () => {
      const admin = new Kafka({ clientId: 'acl-admin', brokers: [`127.0.0.1:${ports[0]!.plain}`], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'alice-orders', numPartitions: 1 }], waitForLeaders: true });
      const last = ports[ports.length - 1]!;
      const alice = new Kafka({
        clientId: 'alice',
        brokers: [`127.0.0.1:${last.sasl}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' },
      });
      const producer = alice.producer();
      await producer.connect();
      // kafkajs reports TOPIC_AUTHORIZATION_FAILED (29) of its Metadata request as "Not authorized to
      // access topics: [Topic authorization failed]".
      await assert.rejects(producer.send({ topic: 'alice-orders', messages: [{ value: 'refused' }] }), /Topic authorization failed/);
      await admin.createAcls({
        acl: [{
          resourceType: AclResourceTypes.TOPIC, resourceName: 'alice-orders', resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:alice', host: '*', operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW,
        }],
      });
      // ACL changes reach every agent within a second.
      let sent: Awaited<ReturnType<typeof producer.send>> | undefined;
      for (const deadline = Date.now() + 2000; sent === undefined; ) {
        try {
          sent = await producer.send({ topic: 'alice-orders', messages: [{ value: 'allowed' }] });
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.equal(sent[0]!.errorCode, 0);
      // The record is there, read by the administrator.
      const offsets = await admin.fetchTopicOffsets('alice-orders');
      assert.equal(offsets[0]!.high, '1');
      await producer.disconnect();
      await admin.disconnect();
    });
  });
}
