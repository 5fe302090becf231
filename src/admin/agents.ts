// `streamhouse agents`: every registered agent with its node id, address, liveness (a heartbeat within
// the liveness window, judged on the database clock) and the leases it holds. Through a broker only the
// live agents are visible (Metadata's brokers), with the partitions each leads.
import { ErrorCode } from '../../protocol/index.js';
import { formatRelative, formatTable, formatTime } from './table.js';
import type { Target } from './target.js';

export interface AgentRow {
  agentId: string | null;
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** live: heartbeat within the window; retiring: handing off before a clean stop; dead: heartbeat too old. */
  status: 'live' | 'retiring' | 'dead';
  live: boolean;
  lastHeartbeat: number | null;
  startedAt: number | null;
  /** Unexpired partition leases held (database), or partitions led per Metadata (broker). */
  partitionLeases: number;
  /** Unexpired coordinator shard leases held (database only). */
  coordinatorShards: number | null;
  /** Advertised listeners, `NAME://host:port,...` (database only). */
  listeners: string | null;
}

export interface AgentList {
  source: 'database' | 'broker';
  databaseTime: number | null;
  liveWithinMs: number | null;
  agents: AgentRow[];
}

/** The agents' default liveness window: 3 × the default --agent-heartbeat-ms (2000). */
export const DEFAULT_LIVE_WITHIN_MS = 6000;

export async function listAgents(target: Target, opts: { liveWithinMs?: number } = {}): Promise<AgentList> {
  const liveWithinMs = opts.liveWithinMs ?? DEFAULT_LIVE_WITHIN_MS;
  if (target.kind === 'db') {
    const { store } = target;
    const [agents, leases, shards, now] = await Promise.all([store.listAgents(), store.listPartitionLeases(), store.listCoordinatorLeases(), store.now()]);
    const count = (rows: Array<{ leaderAgentId: string; leaseExpiresAt: number }>, id: string) =>
      rows.filter((l) => l.leaderAgentId === id && l.leaseExpiresAt > now).length;
    return {
      source: 'database',
      databaseTime: now,
      liveWithinMs,
      agents: agents.map((a) => {
        const status = a.lastHeartbeat === 0 ? 'retiring' : now - a.lastHeartbeat <= liveWithinMs ? 'live' : 'dead';
        return {
          agentId: a.agentId,
          nodeId: a.nodeId,
          host: a.host,
          port: a.port,
          rack: a.rack,
          status,
          live: status === 'live',
          lastHeartbeat: a.lastHeartbeat > 0 ? a.lastHeartbeat : null,
          startedAt: a.startedAt,
          partitionLeases: count(leases, a.agentId),
          coordinatorShards: count(shards.filter((s) => s.shard >= 0), a.agentId),
          listeners: a.listeners ?? null,
        };
      }),
    };
  }
  const md = await target.client.metadata(null);
  const led = new Map<number, number>();
  for (const t of md.topics) {
    if (t.errorCode !== ErrorCode.NONE) continue;
    for (const p of t.partitions) led.set(p.leaderId, (led.get(p.leaderId) ?? 0) + 1);
  }
  return {
    source: 'broker',
    databaseTime: null,
    liveWithinMs: null,
    agents: [...md.brokers]
      .sort((a, b) => a.nodeId - b.nodeId)
      .map((b) => ({
        agentId: null,
        nodeId: b.nodeId,
        host: b.host,
        port: b.port,
        rack: b.rack ?? null,
        status: 'live' as const,
        live: true,
        lastHeartbeat: null,
        startedAt: null,
        partitionLeases: led.get(b.nodeId) ?? 0,
        coordinatorShards: null,
        listeners: null,
      })),
  };
}

export function renderAgents(list: AgentList): string {
  const now = list.databaseTime;
  const db = list.source === 'database';
  return formatTable(
    [
      ...(db ? [{ header: 'AGENT-ID', value: (a: AgentRow) => a.agentId }] : []),
      { header: 'NODE', value: (a: AgentRow) => a.nodeId },
      { header: 'ADDRESS', value: (a) => `${a.host}:${a.port}` },
      { header: 'RACK', value: (a) => a.rack },
      { header: 'STATUS', value: (a) => a.status },
      ...(db
        ? [
            { header: 'LAST-HEARTBEAT', value: (a: AgentRow) => (now === null ? null : formatRelative(a.lastHeartbeat, now)) },
            { header: 'STARTED', value: (a: AgentRow) => formatTime(a.startedAt) },
            { header: 'PARTITION-LEASES', value: (a: AgentRow) => a.partitionLeases },
            { header: 'COORDINATOR-SHARDS', value: (a: AgentRow) => a.coordinatorShards },
            { header: 'LISTENERS', value: (a: AgentRow) => a.listeners },
          ]
        : [{ header: 'PARTITIONS-LED', value: (a: AgentRow) => a.partitionLeases }]),
    ],
    list.agents,
    { empty: '(no agents registered)' },
  );
}
