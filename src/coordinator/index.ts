// The classic consumer group coordinator: group state machine, placement of groups on brokers, and the
// coordinator the group handlers call.
export { GroupCoordinator, COORDINATOR_KEY_GROUP, COORDINATOR_KEY_TRANSACTION } from './coordinator.js';
export type {
  GroupCoordinatorOptions,
  CoordinatorOwnership,
  CoordinatorStore,
  CommitParams,
  CommitPartition,
  PartitionErrors,
  FetchOffsetsResult,
  FetchedOffset,
  ListedGroup,
  DescribedGroup,
  OffsetDeleteResult,
} from './coordinator.js';
export { ClassicGroup, CONSUMER_PROTOCOL_TYPE } from './group.js';
export type { JoinParams, JoinResult, SyncParams, SyncResult, LeaveMember, LeaveResult, Protocol, GroupConfig, PersistRequest, StoredMember } from './group.js';
export { transition, canTransition, IllegalGroupTransition, GROUP_STATE_NAMES, type GroupState, type GroupStateName } from './state.js';
export { coordinatorNodeFor } from './placement.js';
export { CoordinatorShards, shardFor, javaStringHashCode, DEFAULT_COORDINATOR_SHARDS, IllegalShardTransition, type ShardLeaseStore, type ShardListener, type ShardOptions, type ShardState, type ShardCheck } from './shards.js';
export { systemTimers, type Timers, type TimerHandle } from './timers.js';
