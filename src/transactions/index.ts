// Transactions (KIP-98) on this agent: the coordinator of the transactional ids whose shards it owns,
// and the leader side (markers, aborted index, checks of transactional batches) of the partitions it leads.
import type { ErrorCodeValue } from '../../protocol/errors.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { TransactionCoordinator } from './coordinator.js';
import type { PartitionTransactions } from './partition-txns.js';

export interface Transactions {
  readonly coordinator: TransactionCoordinator;
  readonly partitions: PartitionTransactions;
}

/**
 * PRODUCER_FENCED exists from these request versions on (KIP-588); older clients get
 * INVALID_PRODUCER_EPOCH, as from Kafka.
 */
export function fencedCode(code: ErrorCodeValue, apiVersion: number, fencedFrom: number): ErrorCodeValue {
  return code === ErrorCode.PRODUCER_FENCED && apiVersion < fencedFrom ? ErrorCode.INVALID_PRODUCER_EPOCH : code;
}

export { TransactionCoordinator } from './coordinator.js';
export { PartitionTransactions } from './partition-txns.js';
export { TxnStore } from './store.js';
export { ClusterMarkerWriter } from './markers.js';
