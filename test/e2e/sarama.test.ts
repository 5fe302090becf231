// sarama (Go; Debian's golang-github-shopify-sarama-dev, sarama 1.22 at protocol version 2.1) against the
// real agent, on both configurations: its cluster admin creates a topic, its SyncProducer writes keyed
// records with headers (acks=all, snappy), and a sarama consumer group reads them back and commits;
// a second group member started later resumes from the committed offsets (checked against kafkajs);
// its cluster admin and offset manager, at the old API versions sarama 1.22 sends, around a topic.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { projectRoot } from '../helpers/paths.js';
import { describeRun, runClient } from '../helpers/run-client.js';

const { Kafka, logLevel } = kafkajs;
const RECORDS = 30;

let buildDir: string;
let binary: string;

before(async () => {
  // GOPATH mode against Debian's Go sources: no module download, nothing fetched.
  buildDir = mkdtempSync(join(tmpdir(), 'streamhouse-sarama-'));
  binary = join(buildDir, 'sarama-e2e');
  const built = await runClient('go', ['build', '-o', binary, '.'], {
    env: { GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOCACHE: join(buildDir, 'cache'), GOFLAGS: '' },
    cwd: join(projectRoot(), 'test', 'clients', 'sarama'),
    timeoutMs: 240_000,
  }).catch((err: Error) => ({ code: -1, stdout: '', stderr: String(err), events: [] }));
  assert.equal(built.code, 0, `go build of the sarama client failed (is golang-github-shopify-sarama-dev installed?)\n${built.stderr}`);
});

after(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

for (const backendName of BACKENDS) {
  describe(`sarama (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
    });

    after(async () => {
      await agent?.stop();
      await backend?.stop();
    });

    test('admin + SyncProducer + consumer group: records, offsets and commits come back', async () => {
      const topic = 'sarama-e2e';
      const produced = await runClient(binary, [agent.bootstrap, topic, 'produce', String(RECORDS)]);
      assert.equal(produced.code, 0, describeRun(produced));
      const acks = produced.events.filter((e) => e.event === 'produced');
      assert.equal(acks.length, RECORDS);
      for (const a of acks) {
        const i = a.i as number;
        assert.deepEqual([a.p, a.o], [i % 3, Math.floor(i / 3)], `record ${i}`);
      }

      const consumed = await runClient(binary, [agent.bootstrap, topic, 'consume', 'sarama-group', String(RECORDS)]);
      assert.equal(consumed.code, 0, describeRun(consumed));
      assert.ok(consumed.events.some((e) => e.event === 'assign' && JSON.stringify((e.claims as Record<string, number[]>)[topic]?.sort()) === '[0,1,2]'), describeRun(consumed));
      const records = consumed.events.filter((e) => e.event === 'record');
      assert.equal(records.length, RECORDS, describeRun(consumed));
      for (const r of records) {
        const i = (r.o as number) * 3 + (r.p as number);
        assert.deepEqual({ k: r.k, v: r.v, h: r.h }, { k: `k${i}`, v: `v${i}`, h: { h: `x${i}` } });
        assert.ok(Math.abs((r.ts as number) - Date.now()) < 120_000, `timestamp ${String(r.ts)}`);
      }
      assert.deepEqual(consumed.events.filter((e) => e.event === 'error'), []);

      // The group's commits, as another client sees them.
      const kafka = new Kafka({ clientId: 'check', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchOffsets({ groupId: 'sarama-group', topics: [topic] });
        assert.deepEqual(offsets[0].partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '10'], [1, '10'], [2, '10']]);
      } finally {
        await admin.disconnect();
      }

      // More records, then a new member of the same group: it starts where the first one committed.
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [0, 1, 2].map((p) => ({ partition: p, value: `late-${p}` })) });
      await producer.disconnect();
      const resumed = await runClient(binary, [agent.bootstrap, topic, 'consume', 'sarama-group', '3']);
      assert.equal(resumed.code, 0, describeRun(resumed));
      const late = resumed.events.filter((e) => e.event === 'record').map((r) => [r.p, r.o, r.v]).sort();
      assert.deepEqual(late, [[0, 10, 'late-0'], [1, 10, 'late-1'], [2, 10, 'late-2']]);
    });

    test('cluster admin at sarama\'s old API versions: topics, partitions, configs, DeleteRecords, offsets, groups', async () => {
      const run = await runClient(binary, [agent.bootstrap, 'sarama-admin', 'admin', 'sarama-admin-group']);
      assert.equal(run.code, 0, describeRun(run));
      const ev = (name: string) => run.events.find((e) => e.event === name) ?? assert.fail(`no ${name} event\n${describeRun(run)}`);
      assert.equal(ev('listed').partitions, 2);
      assert.equal(ev('described').partitions, 3);
      assert.deepEqual(ev('configs').configs, { 'retention.ms': { value: '7200000', default: false }, 'cleanup.policy': { value: 'delete', default: true } });
      assert.deepEqual([ev('offsets').oldest, ev('offsets').newest], [4, 6]);
      const g = ev('group');
      assert.deepEqual({ listed: g.listed, state: g.state, members: g.members, p0: g.p0, p0meta: g.p0meta, p1: g.p1 }, { listed: true, state: 'Empty', members: 0, p0: 5, p0meta: 'meta', p1: -1 });
      assert.equal(ev('deleted').listed, false);
    });
  });
}
