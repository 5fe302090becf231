// Writes of one group run one at a time, in the order they were asked for, so a later state or offset
// never lands before an earlier one (requests of one connection are handled concurrently). Offset
// commits waiting behind a write are merged into one statement when their turn comes: a group under
// heavy commit load costs one round trip per batch, not per request.
import type { CoordinatorFence, OffsetCommitInput } from '../../metadata/types.js';

type Item =
  | { kind: 'task'; run: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }
  | { kind: 'offsets'; offsets: OffsetCommitInput[]; fence: CoordinatorFence | undefined; resolve: (v: unknown) => void; reject: (e: unknown) => void };

interface Lane {
  items: Item[];
  running: boolean;
  /** Resolved when the lane has run dry. */
  idle: Array<() => void>;
}

const sameFence = (a: CoordinatorFence | undefined, b: CoordinatorFence | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.shard === b.shard && a.epoch === b.epoch && a.agentId === b.agentId);

/** Most offsets merged into one statement. */
const MAX_MERGED_OFFSETS = 20_000;

export class GroupWriteQueue {
  private readonly lanes = new Map<string, Lane>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly writeOffsets: (groupId: string, offsets: OffsetCommitInput[], fence: CoordinatorFence | undefined) => Promise<void>) {}

  /** Runs `task` after every write of the group asked for before it. */
  run<T>(groupId: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.push(groupId, { kind: 'task', run: task, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /**
   * Commits offsets in order with the group's other writes, possibly merged with neighbouring commits
   * carrying the same coordinator fence (a commit decided under another lease epoch is never merged).
   */
  commit(groupId: string, offsets: OffsetCommitInput[], fence?: CoordinatorFence): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.push(groupId, { kind: 'offsets', offsets, fence, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Resolves once no group matching `pred` has writes queued or running. */
  async drainWhere(pred: (groupId: string) => boolean): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const [groupId, lane] of this.lanes) if (pred(groupId)) waits.push(new Promise((resolve) => lane.idle.push(resolve)));
    await Promise.all(waits);
  }

  /** Groups with writes queued or running. */
  get busy(): number {
    return this.lanes.size;
  }

  /** Resolves once every queued write has finished. */
  drain(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private push(groupId: string, item: Item): void {
    let lane = this.lanes.get(groupId);
    if (lane === undefined) {
      lane = { items: [], running: false, idle: [] };
      this.lanes.set(groupId, lane);
    }
    lane.items.push(item);
    if (!lane.running) void this.pump(groupId, lane);
  }

  private async pump(groupId: string, lane: Lane): Promise<void> {
    lane.running = true;
    while (lane.items.length > 0) {
      const first = lane.items[0];
      if (first.kind === 'task') {
        lane.items.shift();
        try {
          first.resolve(await first.run());
        } catch (err) {
          first.reject(err);
        }
        continue;
      }
      const batch: Array<Extract<Item, { kind: 'offsets' }>> = [];
      let count = 0;
      while (
        lane.items.length > 0 &&
        lane.items[0].kind === 'offsets' &&
        (batch.length === 0 || (count + lane.items[0].offsets.length <= MAX_MERGED_OFFSETS && sameFence(lane.items[0].fence, batch[0].fence)))
      ) {
        const it = lane.items.shift() as Extract<Item, { kind: 'offsets' }>;
        batch.push(it);
        count += it.offsets.length;
      }
      const merged = batch.length === 1 ? batch[0].offsets : batch.flatMap((b) => b.offsets);
      try {
        await this.writeOffsets(groupId, merged, batch[0].fence);
        for (const b of batch) b.resolve(undefined);
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    lane.running = false;
    this.lanes.delete(groupId);
    for (const w of lane.idle.splice(0)) w();
    if (this.lanes.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
