// Consumer groups with current librdkafka (2.12, through node-rdkafka's KafkaConsumer) against the real
// agent, on both configurations: the range assignor (eager) and cooperative-sticky (incremental), with a
// second member joining, unsubscribing, resubscribing and leaving: every record consumed once across the
// group with auto-commits, assignments as Kafka gives them. max.poll.interval.ms: a member that stops
// polling keeps its partitions until librdkafka leaves the group for it at the interval, also while a
// rebalance waits for it (the rebalance timeout of JoinGroup is max.poll.interval.ms); a LeaveGroup sent
// right behind the same member's waiting SyncGroup (as librdkafka does at that moment) leaves neither
// unanswered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import rdkafka from 'node-rdkafka';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode, decodeAssignment, encodeSubscription } from '../../protocol/index.js';
import { startAgent, type AgentHandle } from '../helpers/agent.js';
import { BACKENDS, startBackend, type Backend } from '../helpers/backends.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const { Kafka, logLevel } = kafkajs;
const PARTITIONS = 4;
// librdkafka's local error codes (rdkafka.h).
const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;
const ERR_MAX_POLL_EXCEEDED = -147;
const SESSION_TIMEOUT_MS = 6000;
const MAX_POLL_INTERVAL_MS = 10_000;

type Strategy = 'range' | 'cooperative-sticky';

interface Seen {
  member: string;
  partition: number;
  offset: number;
  value: string;
  at: number;
}

interface RebalanceEvent {
  kind: 'assign' | 'revoke';
  partitions: number[];
  at: number;
}

const sorted = (ps: number[]) => [...ps].sort((a, b) => a - b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One KafkaConsumer polling with consume(n) in a loop we control (so a test can stop polling), with
 * librdkafka's own rebalance handling (assign/unassign, incremental for cooperative) and auto-commit.
 */
class RdMember {
  readonly rebalances: RebalanceEvent[] = [];
  readonly errors: Array<{ code: number; message: string; at: number }> = [];
  private readonly consumer: rdkafka.KafkaConsumer;
  private polling = true;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    bootstrap: string,
    groupId: string,
    private readonly topic: string,
    strategy: Strategy,
    private readonly seen: Seen[],
    extra: rdkafka.ConsumerGlobalConfig = {},
  ) {
    this.consumer = new rdkafka.KafkaConsumer(
      {
        'bootstrap.servers': bootstrap,
        'group.id': groupId,
        'client.id': name,
        'partition.assignment.strategy': strategy,
        'session.timeout.ms': SESSION_TIMEOUT_MS,
        'heartbeat.interval.ms': 500,
        'max.poll.interval.ms': MAX_POLL_INTERVAL_MS,
        'enable.auto.commit': true,
        'auto.commit.interval.ms': 200,
        'topic.metadata.refresh.interval.ms': 1000,
        rebalance_cb: true,
        event_cb: true,
        ...(process.env.RDKAFKA_DEBUG ? { debug: process.env.RDKAFKA_DEBUG } : {}),
        ...extra,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    this.consumer.on('rebalance', (err, assignment) => {
      const partitions = sorted(assignment.filter((tp) => tp.topic === topic).map((tp) => tp.partition));
      if (err.code === ERR_ASSIGN_PARTITIONS) this.rebalances.push({ kind: 'assign', partitions, at: Date.now() });
      else if (err.code === ERR_REVOKE_PARTITIONS) this.rebalances.push({ kind: 'revoke', partitions, at: Date.now() });
    });
    this.consumer.on('event.error', (err) => this.errors.push({ code: err.code, message: err.message, at: Date.now() }));
    if (process.env.RDKAFKA_DEBUG) this.consumer.on('event.log', (l: { fac: string; message: string }) => console.log(new Date().toISOString(), name, l.fac, l.message));
    this.consumer.setDefaultConsumeTimeout(100);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => this.consumer.connect({}, (err) => (err ? reject(err) : resolve())));
    this.subscribe();
    this.running = true;
    this.loopDone = this.loop();
    return this;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.polling) {
        await sleep(50);
        continue;
      }
      await new Promise<void>((resolve) =>
        this.consumer.consume(50, (err, messages) => {
          if (err) this.errors.push({ code: err.code, message: err.message, at: Date.now() });
          for (const m of messages ?? []) {
            if (m.topic === this.topic) this.seen.push({ member: this.name, partition: m.partition, offset: m.offset, value: m.value!.toString(), at: Date.now() });
          }
          resolve();
        }),
      );
      await sleep(10);
    }
  }

  /** The partitions librdkafka says it holds now. */
  assigned(): number[] {
    return sorted(this.consumer.assignments().filter((tp) => tp.topic === this.topic).map((tp) => tp.partition));
  }

  subscribe(): void {
    this.consumer.subscribe([this.topic]);
  }

  unsubscribe(): void {
    this.consumer.unsubscribe();
  }

  /** The application stops calling poll (it is busy): returns when it stopped. */
  stopPolling(): number {
    this.polling = false;
    return Date.now();
  }

  resumePolling(): void {
    this.polling = true;
  }

  /** close(): final commit and LeaveGroup. */
  async close(): Promise<void> {
    if (!this.consumer.isConnected()) return;
    this.running = false;
    await this.loopDone;
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}

for (const backendName of BACKENDS) {
  describe(`consumer groups with node-rdkafka / librdkafka ${rdkafka.librdkafkaVersion} (${backendName})`, () => {
    let backend: Backend;
    let agent: AgentHandle;
    let admin: kafkajs.Admin;
    let producer: kafkajs.Producer;
    const members: RdMember[] = [];
    const tag = backendName.replace(/\W/g, '');

    before(async () => {
      backend = await startBackend(backendName);
      agent = await startAgent({ env: backend.env });
      const kafka = new Kafka({ clientId: 'rdk-groups', brokers: [agent.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
      admin = kafka.admin();
      await admin.connect();
      producer = kafka.producer();
      await producer.connect();
    });

    after(async () => {
      for (const m of members) await m.close().catch(() => undefined);
      await producer?.disconnect();
      await admin?.disconnect();
      await agent?.stop();
      await backend?.stop();
    });

    /** A topic and group of their own per test, and a member factory bound to them. */
    const setup = async (name: string, strategy: Strategy) => {
      const topic = `rdkg-${name}-${tag}`;
      const groupId = `rdkg-${name}-${tag}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
      const seen: Seen[] = [];
      let produced = 0;
      return {
        topic,
        groupId,
        seen,
        member: async (clientId: string, extra?: rdkafka.ConsumerGlobalConfig) => {
          const m = new RdMember(clientId, agent.bootstrap, groupId, topic, strategy, seen, extra);
          members.push(m);
          return m.start();
        },
        /** `count` records spread round-robin over the partitions; returns their values. */
        produce: async (count: number): Promise<string[]> => {
          const messages = Array.from({ length: count }, (_, k) => ({ partition: (produced + k) % PARTITIONS, value: `v-${produced + k}` }));
          produced += count;
          await producer.send({ topic, acks: -1, messages });
          return messages.map((m) => m.value);
        },
        all: () => Array.from({ length: produced }, (_, k) => `v-${k}`),
      };
    };

    /** The group as DescribeGroups shows it: Stable with exactly these client ids; partitions by client id. */
    // With cooperative-sticky a rebalance that moves partitions passes through a Stable generation in
    // which the revoked ones are assigned to nobody (KIP-429: revoke first, then a follow-up rebalance
    // assigns them): `complete` waits for the generation that assigns all of them.
    const stableWith = (groupId: string, topic: string, clientIds: string[], timeoutMs = 30_000, complete = false) =>
      waitFor(`group ${groupId} stable with ${clientIds}${complete ? ', every partition assigned' : ''}`, async () => {
        const g = (await admin.describeGroups([groupId])).groups[0];
        if (g.state !== 'Stable' || g.members.length !== clientIds.length) return undefined;
        const byClient = new Map<string, number[]>();
        for (const m of g.members) {
          const parts = decodeAssignment(m.memberAssignment).assignment.assignedPartitions.filter((tp) => tp.topic === topic).flatMap((tp) => tp.partitions);
          byClient.set(m.clientId, sorted(parts));
        }
        if (!clientIds.every((c) => byClient.has(c))) return undefined;
        if (complete && new Set([...byClient.values()].flat()).size < PARTITIONS) return undefined;
        return byClient;
      }, timeoutMs);

    /** Both the coordinator (DescribeGroups) and every member itself agree on `expected`. */
    const settled = async (groupId: string, topic: string, expected: Record<string, RdMember>, timeoutMs = 30_000) => {
      const clientIds = Object.keys(expected);
      const byClient = await stableWith(groupId, topic, clientIds, timeoutMs, true);
      const all = sorted(clientIds.flatMap((c) => byClient.get(c)!));
      assert.deepEqual(all, Array.from({ length: PARTITIONS }, (_, i) => i), `every partition assigned exactly once: ${JSON.stringify([...byClient])}`);
      await waitFor(`members hold their assignment ${JSON.stringify([...byClient])}`, () => clientIds.every((c) => JSON.stringify(expected[c].assigned()) === JSON.stringify(byClient.get(c))), timeoutMs);
      return byClient;
    };

    /** Every value consumed, each exactly once across the group. */
    const consumedOnce = async (seen: Seen[], values: string[], timeoutMs = 30_000, excused: (s: Seen) => boolean = () => false) => {
      const want = new Set(values);
      await waitFor(`${values.length} records consumed`, () => new Set(seen.map((s) => s.value).filter((v) => want.has(v))).size === want.size, timeoutMs).catch((err: Error) => {
        const got = new Set(seen.map((s) => s.value));
        throw new Error(`${err.message}: missing ${values.filter((v) => !got.has(v)).slice(0, 10).join(',')}`);
      });
      await sleep(300);
      const counts = new Map<string, Seen[]>();
      for (const s of seen) if (!excused(s)) counts.set(s.value, [...(counts.get(s.value) ?? []), s]);
      const twice = [...counts.values()].filter((ss) => ss.length > 1);
      const events = members.map((m) => `${m.name}: ${m.rebalances.map((r) => `${r.kind}:${r.partitions.join(',')}@${r.at}`).join(' ')} errors ${m.errors.map((e) => `${e.code}@${e.at}`).join(' ')}`);
      assert.deepEqual(twice.slice(0, 5), [], `${twice.length} records consumed more than once\n${events.join('\n')}`);
    };

    const committed = async (groupId: string, topic: string) =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));

    /** The assignment events of a member in order, without timestamps. */
    const history = (m: RdMember) => m.rebalances.map((r) => `${r.kind}:${r.partitions.join(',')}`);

    test('range: a second member joins, unsubscribes, resubscribes and leaves; every record once', async () => {
      const g = await setup('range', 'range');
      const a = await g.member('rdk-a');
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      await consumedOnce(g.seen, await g.produce(40));

      // Range over members sorted by member id (client id first): rdk-a takes 0-1, rdk-b 2-3. Eager: a
      // revokes everything before the new assignment.
      const b = await g.member('rdk-b');
      let split = await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b });
      assert.deepEqual(split.get('rdk-a'), [0, 1]);
      assert.deepEqual(split.get('rdk-b'), [2, 3]);
      assert.deepEqual(history(a), ['assign:0,1,2,3', 'revoke:0,1,2,3', 'assign:0,1']);
      await consumedOnce(g.seen, await g.produce(40));

      b.unsubscribe();
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      await consumedOnce(g.seen, await g.produce(40));

      b.subscribe();
      split = await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b });
      assert.deepEqual(split.get('rdk-a'), [0, 1]);
      assert.deepEqual(split.get('rdk-b'), [2, 3]);
      await consumedOnce(g.seen, await g.produce(40));

      await b.close();
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      await consumedOnce(g.seen, await g.produce(40));
      await consumedOnce(g.seen, g.all());
      await waitFor('offsets committed', async () => (await committed(g.groupId, g.topic)).every((o) => o === 50) || undefined, 10_000);
      await a.close();
      assert.equal((await admin.describeGroups([g.groupId])).groups[0].state, 'Empty');
    });

    test('cooperative-sticky: a second member joins, unsubscribes, resubscribes and leaves; nobody revokes what it keeps', async () => {
      const g = await setup('coop', 'cooperative-sticky');
      const a = await g.member('rdk-a');
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      await consumedOnce(g.seen, await g.produce(40));

      // Incremental: b gets two partitions that a revoked (and only those), in a follow-up rebalance.
      const b = await g.member('rdk-b');
      let split = await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b });
      assert.equal(split.get('rdk-a')!.length, 2);
      assert.equal(split.get('rdk-b')!.length, 2);
      const aRevoked = a.rebalances.filter((r) => r.kind === 'revoke').flatMap((r) => r.partitions);
      assert.deepEqual(sorted(aRevoked), split.get('rdk-b'), `a revoked only what b took: ${history(a)}`);
      await consumedOnce(g.seen, await g.produce(40));

      // b unsubscribes: a takes b's partitions without giving up its own.
      const aBefore = a.rebalances.length;
      b.unsubscribe();
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      const aNow = a.rebalances.slice(aBefore);
      assert.deepEqual(aNow.filter((r) => r.kind === 'revoke').flatMap((r) => r.partitions), [], `a revoked nothing: ${history(a)}`);
      assert.deepEqual(sorted(aNow.filter((r) => r.kind === 'assign').flatMap((r) => r.partitions)), split.get('rdk-b'));
      await consumedOnce(g.seen, await g.produce(40));

      // b resubscribes: two partitions move back, a keeps the other two throughout.
      const aBeforeResubscribe = a.rebalances.length;
      b.subscribe();
      split = await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b });
      assert.equal(split.get('rdk-a')!.length, 2);
      assert.equal(split.get('rdk-b')!.length, 2);
      const movedBack = a.rebalances.slice(aBeforeResubscribe).filter((r) => r.kind === 'revoke').flatMap((r) => r.partitions);
      assert.deepEqual(sorted(movedBack), split.get('rdk-b'), `a revoked only what b took: ${history(a)}`);
      await consumedOnce(g.seen, await g.produce(40));

      const aBeforeLeave = a.rebalances.length;
      await b.close();
      await settled(g.groupId, g.topic, { 'rdk-a': a });
      assert.deepEqual(a.rebalances.slice(aBeforeLeave).filter((r) => r.kind === 'revoke').flatMap((r) => r.partitions), [], `a revoked nothing when b left: ${history(a)}`);
      await consumedOnce(g.seen, await g.produce(40));
      await consumedOnce(g.seen, g.all());
      await waitFor('offsets committed', async () => (await committed(g.groupId, g.topic)).every((o) => o === 50) || undefined, 10_000);
      await a.close();
    });

    // librdkafka sends LeaveGroup when max.poll.interval.ms expires whatever it is waiting for, e.g. its
    // SyncGroup while the leader assigns. Kafka reads that LeaveGroup only after answering the SyncGroup;
    // the agent reads both at once and answers in order, so the SyncGroup must not be left unanswered.
    test('a LeaveGroup right behind the same member\'s waiting SyncGroup: both are answered', async () => {
      const groupId = `rdkg-pipelined-${tag}`;
      const metadata = encodeSubscription({ topics: ['t'], userData: null, ownedPartitions: [] }, 1);
      const join = (c: RawClient, memberId: string) =>
        c.request(ApiKey.JoinGroup, 5, { groupId, sessionTimeoutMs: SESSION_TIMEOUT_MS, rebalanceTimeoutMs: MAX_POLL_INTERVAL_MS, memberId, groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata }] });
      /** A first join: MEMBER_ID_REQUIRED hands out the id to come back with (v4+). */
      const joinNew = async (c: RawClient) => {
        const first = await join(c, '');
        assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
        return join(c, first.memberId);
      };
      const leader = await RawClient.connect(agent.port);
      const follower = await RawClient.connect(agent.port);
      try {
        const first = await joinNew(leader);
        assert.equal(first.errorCode, ErrorCode.NONE);
        const leaderId = first.memberId;
        const stable = await leader.request(ApiKey.SyncGroup, 3, { groupId, generationId: first.generationId, memberId: leaderId, groupInstanceId: null, assignments: [] });
        assert.equal(stable.errorCode, ErrorCode.NONE);
        // The follower arrives: the leader rejoins, and the new generation waits for the leader's assignment.
        const followerJoin = joinNew(follower);
        await waitFor('a rebalance', async () => (await admin.describeGroups([groupId])).groups[0].state === 'PreparingRebalance', 10_000);
        const rejoin = await join(leader, leaderId);
        const joined = await followerJoin;
        assert.equal(rejoin.leader, leaderId);
        assert.equal(joined.generationId, rejoin.generationId);
        const sync = follower.request(ApiKey.SyncGroup, 3, { groupId, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, assignments: [] });
        await sleep(200);
        const leave = follower.request(ApiKey.LeaveGroup, 3, { groupId, members: [{ memberId: joined.memberId, groupInstanceId: null }] });
        const answered = await Promise.race([Promise.all([sync, leave]), sleep(5000).then(() => undefined)]);
        assert.ok(answered, 'SyncGroup and LeaveGroup answered');
        const [s, l] = answered;
        assert.equal(s.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
        assert.equal(l.errorCode, ErrorCode.NONE);
        assert.deepEqual((l.members ?? []).map((m) => m.errorCode), [ErrorCode.NONE]);
        const g = (await admin.describeGroups([groupId])).groups[0];
        assert.deepEqual(g.members.map((m) => m.memberId), [leaderId], 'the leader is left, rebalancing');
      } finally {
        leader.close();
        follower.close();
      }
    });

    for (const strategy of ['range', 'cooperative-sticky'] as const) {
      test(`max.poll.interval.ms (${strategy}): a member that stops polling keeps its partitions until the interval, also while the group rebalances`, async () => {
        const g = await setup(`maxpoll-${strategy.slice(0, 4)}`, strategy);
        const a = await g.member('rdk-a');
        const b = await g.member('rdk-b');
        const split = await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b });
        await consumedOnce(g.seen, await g.produce(40));
        const aParts = split.get('rdk-a')!;

        // a's application blocks; librdkafka keeps heartbeating for it.
        const stoppedAt = a.stopPolling();
        await sleep(300);
        const pending = await g.produce(40);
        // A third member joins meanwhile: the rebalance waits for a (its rebalance timeout is its
        // max.poll.interval.ms) instead of handing its partitions on.
        await sleep(1000);
        const c = await g.member('rdk-c');
        await sleep(MAX_POLL_INTERVAL_MS - 3000);
        const early = g.seen.filter((s) => aParts.includes(s.partition) && s.member !== 'rdk-a');
        assert.deepEqual(early, [], 'nobody else consumed a\'s partitions before its max.poll.interval.ms');
        const g1 = (await admin.describeGroups([g.groupId])).groups[0];
        assert.ok(g1.members.some((m) => m.clientId === 'rdk-a'), `a is still a member: ${g1.state} ${g1.members.map((m) => m.clientId)}`);
        // Eager: a cannot rejoin before its application serves the revocation, so the join phase waits.
        if (strategy === 'range') assert.equal(g1.state, 'PreparingRebalance');

        // librdkafka leaves the group for a at the interval; b and c take everything over.
        await settled(g.groupId, g.topic, { 'rdk-b': b, 'rdk-c': c });
        await consumedOnce(g.seen, pending);
        const taken = g.seen.filter((s) => aParts.includes(s.partition) && s.member !== 'rdk-a' && s.at > stoppedAt);
        assert.ok(taken.length > 0);
        const firstTakenAfter = Math.min(...taken.map((s) => s.at)) - stoppedAt;
        assert.ok(firstTakenAfter >= MAX_POLL_INTERVAL_MS - 500, `a's partitions were consumed elsewhere ${firstTakenAfter} ms after it stopped polling`);
        assert.ok(firstTakenAfter < MAX_POLL_INTERVAL_MS + 6000, `a's partitions were idle until ${firstTakenAfter} ms after it stopped polling`);

        // a polls again: it is told it exceeded the interval, rejoins, and the three share the partitions.
        // Records librdkafka had fetched for a before it lost its partitions may still reach a first
        // (at least once after a max.poll.interval.ms violation, as with Kafka): those are excused.
        const resumedAt = Date.now();
        a.resumePolling();
        await waitFor('a learns it exceeded max.poll.interval.ms', () => a.errors.some((e) => e.code === ERR_MAX_POLL_EXCEEDED), 10_000);
        await settled(g.groupId, g.topic, { 'rdk-a': a, 'rdk-b': b, 'rdk-c': c });
        const rejoinedAt = Date.now();
        const stale = (s: Seen) => s.member === 'rdk-a' && s.at >= resumedAt && s.at < rejoinedAt && pending.includes(s.value);
        await consumedOnce(g.seen, await g.produce(40), 30_000, stale);
        await consumedOnce(g.seen, g.all(), 30_000, stale);
        for (const m of [a, b, c]) await m.close();
      });
    }
  });
}
