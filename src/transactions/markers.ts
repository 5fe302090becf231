// Sends commit/abort markers to the leaders of a transaction's partitions (Kafka's
// TransactionMarkerChannelManager): the partitions this agent leads are written here; the others go
// to their leader agent as WriteTxnMarkers requests. Leaders are looked up per attempt, so a marker
// follows a partition that moved.
import { ApiKey, ErrorCode, type ErrorCodeValue } from '../../protocol/index.js';
import { BrokerConnection } from '../admin/broker-client.js';
import type { BrokerInfo } from '../context.js';
import { endpointFor } from '../network/listeners.js';
import type { Logger } from '../logger.js';
import type { PartitionTransactions } from './partition-txns.js';

export interface MarkerTarget {
  topic: string;
  partitionId: number;
}

export interface MarkerResult extends MarkerTarget {
  errorCode: ErrorCodeValue;
}

export interface MarkerWriter {
  write(targets: MarkerTarget[], producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number): Promise<MarkerResult[]>;
  close(): void;
}

export interface MarkerClusterView {
  nodeId: number;
  brokers(): Promise<BrokerInfo[]>;
  leaders(topic: string, partitionCount: number): Promise<Array<{ nodeId: number; leaderEpoch: number }>>;
  partitionCount(topic: string): Promise<number | undefined>;
}

const REQUEST_TIMEOUT_MS = 10_000;

export class ClusterMarkerWriter implements MarkerWriter {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();

  constructor(
    private readonly cluster: MarkerClusterView,
    private readonly local: PartitionTransactions,
    private readonly log?: Logger,
  ) {}

  async write(targets: MarkerTarget[], producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number): Promise<MarkerResult[]> {
    const byNode = new Map<number, MarkerTarget[]>();
    const out: MarkerResult[] = [];
    const counts = new Map<string, number | undefined>();
    for (const t of targets) {
      if (!counts.has(t.topic)) counts.set(t.topic, await this.cluster.partitionCount(t.topic));
      const count = counts.get(t.topic);
      if (count === undefined || t.partitionId >= count) {
        out.push({ ...t, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
        continue;
      }
      const leaders = await this.cluster.leaders(t.topic, count);
      const node = leaders[t.partitionId]?.nodeId ?? -1;
      let list = byNode.get(node);
      if (list === undefined) byNode.set(node, (list = []));
      list.push(t);
    }
    const brokers = byNode.size > 1 || !byNode.has(this.cluster.nodeId) ? await this.cluster.brokers() : [];
    await Promise.all(
      [...byNode].map(async ([node, list]) => {
        if (node === this.cluster.nodeId || node < 0) {
          const codes = await Promise.all(list.map((t) => this.local.writeMarker(t.topic, t.partitionId, producerId, producerEpoch, commit, coordinatorEpoch)));
          list.forEach((t, i) => out.push({ ...t, errorCode: codes[i]! }));
          return;
        }
        const broker = brokers.find((b) => b.nodeId === node);
        if (broker === undefined) {
          for (const t of list) out.push({ ...t, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER });
          return;
        }
        out.push(...(await this.remote(broker, list, producerId, producerEpoch, commit, coordinatorEpoch)));
      }),
    );
    return out;
  }

  private async remote(broker: BrokerInfo, list: MarkerTarget[], producerId: number, producerEpoch: number, commit: boolean, coordinatorEpoch: number): Promise<MarkerResult[]> {
    const topics = new Map<string, number[]>();
    for (const t of list) topics.set(t.topic, [...(topics.get(t.topic) ?? []), t.partitionId]);
    try {
      const conn = await this.connection(broker);
      const res = await conn.request(ApiKey.WriteTxnMarkers, 1, {
        markers: [{ producerId, producerEpoch, transactionResult: commit, coordinatorEpoch, topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) }],
      });
      const out: MarkerResult[] = [];
      for (const m of res.markers) for (const t of m.topics) for (const p of t.partitions) out.push({ topic: t.name, partitionId: p.partitionIndex, errorCode: p.errorCode as ErrorCodeValue });
      return out;
    } catch (err) {
      this.drop(broker.nodeId);
      this.log?.debug({ node: broker.nodeId, err: (err as Error).message }, 'sending transaction markers failed; will retry');
      return list.map((t) => ({ ...t, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }));
    }
  }

  private connection(broker: BrokerInfo): Promise<BrokerConnection> {
    let c = this.connections.get(broker.nodeId);
    if (c === undefined) {
      // Agents send markers as anonymous clients: to the peer's PLAINTEXT listener when it has one
      // (a marker is written only when it matches the decision stored in PostgreSQL, so no credential
      // is needed); a cluster whose agents listen only with TLS or SASL cannot send them yet.
      const { host, port } = endpointFor(broker, 'PLAINTEXT');
      c = BrokerConnection.open(host, port, REQUEST_TIMEOUT_MS);
      this.connections.set(broker.nodeId, c);
      c.catch(() => this.connections.delete(broker.nodeId));
    }
    return c;
  }

  private drop(nodeId: number): void {
    const c = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    c?.then((conn) => conn.close(), () => {});
  }

  close(): void {
    for (const node of [...this.connections.keys()]) this.drop(node);
  }
}
