// npm run bench -- groups [--seconds N] [--only embedded|postgres] [--heartbeat-ms N] [--rounds N]
// Against the real agent, on embedded PGlite and on a durable PostgreSQL (fsync on):
// 1. OffsetCommit throughput: pre-encoded OffsetCommit v8 requests of 100 partitions each, pipelined
//    over several connections, once with one group per connection and once with every connection
//    committing for the same group (per-group ordering: its commits are merged into fewer statements);
// 2. rebalance time: a group of 10 members (minimal protocol clients that heartbeat every
//    --heartbeat-ms and rejoin as soon as told); one member leaves; time until the other nine have
//    their assignment of the next generation (the group is Stable again). Then a member joins again.
//    group.initial.rebalance.delay.ms is 0.
import { ApiKey, ErrorCode, decodeResponse, encodeAssignment, encodeRequest, encodeSubscription } from '../protocol/index.js';
import { startAgent, type AgentHandle } from '../test/helpers/agent.js';
import { startPostgres, type PostgresServer } from '../test/helpers/postgres.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { pipelined } from './_pipeline.js';

const TOPIC = 'bench-groups';
const TOPIC_PARTITIONS = 1000;
const PARTITIONS_PER_REQUEST = 100;
const CONNECTIONS = 8;
const DEPTH = 4;
const COMMIT_VERSION = 8;
const MEMBERS = 10;

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** OffsetCommit requests (generation -1: committers outside group management) covering the topic. */
function commitFrames(groupId: string, round: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let first = 0; first < TOPIC_PARTITIONS; first += PARTITIONS_PER_REQUEST) {
    const partitions = Array.from({ length: PARTITIONS_PER_REQUEST }, (_, j) => ({
      partitionIndex: first + j,
      committedOffset: round * 1000 + first + j,
      committedLeaderEpoch: 0,
      committedMetadata: '',
    }));
    frames.push(Buffer.concat(encodeRequest(ApiKey.OffsetCommit, COMMIT_VERSION, 0, 'bench', { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: TOPIC, partitions }] })));
  }
  return frames;
}

/** Sends commits for `seconds` over CONNECTIONS connections, DEPTH in flight each. */
async function commitLoad(port: number, seconds: number, groupFor: (c: number) => string): Promise<{ offsetsPerSec: number; requestsPerSec: number; errors: number; p50: number; p99: number }> {
  let acked = 0;
  let errors = 0;
  const codes = new Map<number, number>();
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  const conn = async (c: number) => {
    const frames = [0, 1, 2, 3].flatMap((round) => commitFrames(groupFor(c), round));
    await pipelined(port, frames, c, deadline, DEPTH, (frame, sentAt) => {
      latencies.push(performance.now() - sentAt);
      const { body } = decodeResponse(ApiKey.OffsetCommit, COMMIT_VERSION, frame);
      for (const t of body.topics) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) acked++;
      else {
        errors++;
        codes.set(p.errorCode, (codes.get(p.errorCode) ?? 0) + 1);
      }
    });
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, c) => conn(c)));
  const secs = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  if (codes.size > 0) console.log(`  error codes: ${[...codes].map(([c, n]) => `${c}×${n}`).join(', ')}`);
  return { offsetsPerSec: acked / secs, requestsPerSec: acked / PARTITIONS_PER_REQUEST / secs, errors, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

// ---- rebalance: minimal group members -------------------------------------------------------------

class Member {
  memberId = '';
  generation = -1;
  /** Generations for which this member has its assignment, with the time it arrived. */
  readonly synced = new Map<number, number>();
  private stopped = false;
  private rejoining: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  onSynced: (() => void) | undefined;

  private constructor(
    private readonly client: RawClient,
    readonly groupId: string,
    private readonly heartbeatMs: number,
  ) {}

  static async start(port: number, groupId: string, heartbeatMs: number): Promise<Member> {
    const m = new Member(await RawClient.connect(port), groupId, heartbeatMs);
    void m.rejoin();
    m.timer = setInterval(() => void m.heartbeat(), heartbeatMs);
    return m;
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped || this.rejoining || this.generation < 0) return;
    const r = await this.client.request(ApiKey.Heartbeat, 3, { groupId: this.groupId, generationId: this.generation, memberId: this.memberId, groupInstanceId: null }).catch(() => undefined);
    if (r && r.errorCode !== ErrorCode.NONE && !this.stopped) void this.rejoin();
  }

  private rejoin(): Promise<void> {
    this.rejoining ??= this.joinAndSync().finally(() => (this.rejoining = undefined));
    return this.rejoining;
  }

  private async joinAndSync(): Promise<void> {
    const subscription = encodeSubscription({ topics: [TOPIC], userData: null, ownedPartitions: [] }, 1);
    for (;;) {
      if (this.stopped) return;
      const j = await this.client.request(ApiKey.JoinGroup, 5, {
        groupId: this.groupId,
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: subscription }],
      });
      if (j.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
        this.memberId = j.memberId;
        continue;
      }
      if (j.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
        this.memberId = '';
        continue;
      }
      if (j.errorCode !== ErrorCode.NONE) throw new Error(`JoinGroup: error ${j.errorCode}`);
      this.memberId = j.memberId;
      this.generation = j.generationId;
      const assignments =
        j.leader === j.memberId
          ? j.members.map((m, i) => ({
              memberId: m.memberId,
              assignment: encodeAssignment({ assignedPartitions: [{ topic: TOPIC, partitions: Array.from({ length: TOPIC_PARTITIONS }, (_, p) => p).filter((p) => p % j.members.length === i) }], userData: null }, 1),
            }))
          : [];
      const s = await this.client.request(ApiKey.SyncGroup, 3, { groupId: this.groupId, generationId: j.generationId, memberId: j.memberId, groupInstanceId: null, assignments });
      if (s.errorCode === ErrorCode.NONE) {
        this.synced.set(j.generationId, performance.now());
        this.onSynced?.();
        return;
      }
      if (s.errorCode !== ErrorCode.REBALANCE_IN_PROGRESS && s.errorCode !== ErrorCode.ILLEGAL_GENERATION) throw new Error(`SyncGroup: error ${s.errorCode}`);
    }
  }

  async leave(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.client.request(ApiKey.LeaveGroup, 3, { groupId: this.groupId, members: [{ memberId: this.memberId, groupInstanceId: null }] });
    this.client.close();
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.client.close();
  }
}

/** Resolves with the time at which every member has its assignment for a generation above `after`. */
function stableAbove(members: Member[], after: number): Promise<{ at: number; generation: number }> {
  return new Promise((resolve) => {
    const check = () => {
      const gens = members.map((m) => Math.max(-1, ...m.synced.keys()));
      const g = Math.min(...gens);
      if (g > after && gens.every((x) => x === g)) {
        for (const m of members) m.onSynced = undefined;
        resolve({ at: Math.max(...members.map((m) => m.synced.get(g)!)), generation: g });
      }
    };
    for (const m of members) m.onSynced = check;
    check();
  });
}

async function rebalanceBench(port: number, heartbeatMs: number, rounds: number): Promise<void> {
  const groupId = `bench-rebalance-${Date.now()}`;
  const members: Member[] = [];
  for (let i = 0; i < MEMBERS; i++) members.push(await Member.start(port, groupId, heartbeatMs));
  let { generation } = await stableAbove(members, 0);
  const leaveMs: number[] = [];
  const joinMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const leaving = members.splice(r % members.length, 1)[0];
    const t0 = performance.now();
    await leaving.leave();
    const nine = await stableAbove(members, generation);
    leaveMs.push(nine.at - t0);
    const t1 = performance.now();
    members.push(await Member.start(port, groupId, heartbeatMs));
    const ten = await stableAbove(members, nine.generation);
    joinMs.push(ten.at - t1);
    generation = ten.generation;
  }
  for (const m of members) m.close();
  const report = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`  ${name.padEnd(44)} p50 ${percentile(s, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(s, 99).toFixed(1).padStart(6)} ms   max ${s.at(-1)!.toFixed(1).padStart(6)} ms`);
  };
  console.log(`rebalance, ${MEMBERS} members, heartbeat every ${heartbeatMs} ms, ${rounds} rounds:`);
  report('member leaves → Stable again with 9', leaveMs);
  report('member joins → Stable again with 10', joinMs);
}

async function createTopic(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const r = await c.request(ApiKey.CreateTopics, 4, { topics: [{ name: TOPIC, numPartitions: TOPIC_PARTITIONS, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 60_000, validateOnly: false });
    const code = r.topics[0].errorCode;
    if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS) throw new Error(`CreateTopics: error ${code}`);
  } finally {
    c.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const seconds = Number(arg(args, '--seconds') ?? 10);
  const only = arg(args, '--only');
  const heartbeatMs = Number(arg(args, '--heartbeat-ms') ?? 50);
  const rounds = Number(arg(args, '--rounds') ?? 20);
  for (const name of ['embedded', 'postgres'].filter((n) => !only || n === only)) {
    let pg: PostgresServer | undefined;
    let agent: AgentHandle | undefined;
    try {
      const env: Record<string, string> = { STREAMHOUSE_LOG_LEVEL: process.env.STREAMHOUSE_LOG_LEVEL ?? 'warn', STREAMHOUSE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0' };
      if (name === 'postgres') {
        pg = await startPostgres({ durable: true });
        env.DATABASE_URL = await pg.createDatabase();
      }
      agent = await startAgent({ env });
      console.log(`\n== ${name === 'postgres' ? 'PostgreSQL (durable)' : 'embedded PGlite'} ==`);
      await createTopic(agent.port);
      const perGroup = await commitLoad(agent.port, seconds, (c) => `bench-commit-${c}`);
      console.log(
        `OffsetCommit, ${CONNECTIONS} connections × ${DEPTH} in flight, ${PARTITIONS_PER_REQUEST} partitions/request, one group per connection:\n` +
          `  ${fmt(perGroup.offsetsPerSec)} offsets/s (${fmt(perGroup.requestsPerSec)} requests/s), latency p50 ${perGroup.p50.toFixed(1)} ms p99 ${perGroup.p99.toFixed(1)} ms, errors ${perGroup.errors}`,
      );
      const oneGroup = await commitLoad(agent.port, seconds, () => 'bench-commit-shared');
      console.log(
        `OffsetCommit, same load, every connection for one group:\n` +
          `  ${fmt(oneGroup.offsetsPerSec)} offsets/s (${fmt(oneGroup.requestsPerSec)} requests/s), latency p50 ${oneGroup.p50.toFixed(1)} ms p99 ${oneGroup.p99.toFixed(1)} ms, errors ${oneGroup.errors}`,
      );
      await rebalanceBench(agent.port, heartbeatMs, rounds);
    } catch (err) {
      if (agent) console.error(`agent log (tail):\n${agent.output().split('\n').slice(-40).join('\n')}`);
      throw err;
    } finally {
      await agent?.stop();
      await pg?.stop();
    }
  }
}
