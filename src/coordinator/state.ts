// The classic group states as a discriminated union, and the one function every state change goes
// through. The table lists, for each state, the states it may be entered from (Kafka's GroupState
// validPreviousStates); anything else is a coordinator bug and throws.

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export type GroupState =
  /** No members; offsets may still be committed by simple consumers. */
  | { readonly kind: 'Empty' }
  /**
   * Waiting for members to (re)join. `initial`: the rebalance started from Empty, so the join phase is
   * held for group.initial.rebalance.delay.ms and extended while new members keep arriving.
   */
  | { readonly kind: 'PreparingRebalance'; readonly initial: boolean; newMemberAdded: boolean }
  /** Join phase done, waiting for the leader's assignment. `pendingSync`: members not synced yet. */
  | { readonly kind: 'CompletingRebalance'; readonly pendingSync: Set<string> }
  /** Assignment propagated. Members that still have not sent SyncGroup stay in `pendingSync`. */
  | { readonly kind: 'Stable'; readonly pendingSync: Set<string> }
  /** Deleted or unloaded (coordinator moved, agent stopping); the object is dropped. */
  | { readonly kind: 'Dead' };

const VALID_PREVIOUS: Readonly<Record<GroupStateName, readonly GroupStateName[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

export const GROUP_STATE_NAMES: readonly GroupStateName[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

export class IllegalGroupTransition extends Error {
  constructor(groupId: string, from: GroupStateName, to: GroupStateName) {
    super(`group ${groupId}: ${to} cannot be entered from ${from}`);
    this.name = 'IllegalGroupTransition';
  }
}

export function canTransition(from: GroupStateName, to: GroupStateName): boolean {
  return VALID_PREVIOUS[to].includes(from);
}

/** Returns `to` if the group may move there from `from`; throws IllegalGroupTransition otherwise. */
export function transition<S extends GroupState>(groupId: string, from: GroupState, to: S): S {
  if (!canTransition(from.kind, to.kind)) throw new IllegalGroupTransition(groupId, from.kind, to.kind);
  return to;
}
