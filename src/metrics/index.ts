// Metrics of one agent (agent-metrics.ts) and the decorators and listeners that feed them. See the
// README's "Metrics and health" section for the list of names.
import type { LeaseRef, LeadershipListener } from '../cluster/leases.js';
import type { Config } from '../config.js';
import { AgentMetrics } from './agent-metrics.js';

export { AgentMetrics, type MetricSources, type FlushCycle } from './agent-metrics.js';
export { InstrumentedObjectStore } from './object-store.js';
export { instrumentMetadataStore } from './metadata-store.js';
export { consumerLag, type LagStore, type PartitionLag } from './lag.js';
export { S3_STANDARD_US_EAST_1, costPerGiB, listRequests, requestCost, storageCostPerMonth, type PriceTable, type ObjectOp } from './cost.js';

/** The agent's metrics, or undefined when they are off (--http-port 0). */
export function metricsFor(cfg: Config): AgentMetrics | undefined {
  if (cfg.httpPort === 0) return undefined;
  return new AgentMetrics({ putPer1000: cfg.pricePutPer1000, getPer1000: cfg.priceGetPer1000, storageGbMonth: cfg.priceStorageGbMonth });
}

/**
 * The partition log's leadership listener, counting lease events on the way: acquired (a new epoch
 * served here), handed_off (released after a graceful handoff), lost (anything else).
 */
export function countingLeaseListener(inner: LeadershipListener, metrics: Pick<AgentMetrics, 'leaseEvent'>): LeadershipListener {
  const handingOff = new Set<string>();
  const key = (r: LeaseRef) => `${r.partitionId}:${r.topic}`;
  return {
    async onLeading(ref, epoch) {
      await inner.onLeading(ref, epoch);
      metrics.leaseEvent('partition', 'acquired');
    },
    onHandoff(ref) {
      handingOff.add(key(ref));
      return inner.onHandoff(ref);
    },
    onLost(ref) {
      inner.onLost(ref);
      metrics.leaseEvent('partition', handingOff.delete(key(ref)) ? 'handed_off' : 'lost');
    },
  };
}
