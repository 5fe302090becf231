// An in-memory stand-in for the parts of MetadataStore that storage/ uses, faithful to the real
// contract: commitFlush is all-or-nothing and fenced by lease epoch (and agent) and by the expected
// high watermark. Fault hooks let tests make calls fail, hang, or fail after applying.
import type { FenceReason, FlushCommitPartition, FlushCommitResult, MetadataStore, PartitionRecord, SegmentRecord, TopicRecord } from '../../metadata/types.js';

export type FakeMetadataApi = Pick<
  MetadataStore,
  'commitFlush' | 'findSegmentForOffset' | 'listSegments' | 'listTopics' | 'getPartitions' | 'getPartition'
>;

interface PartState {
  highWatermark: number;
  logStartOffset: number;
  lease: { agentId: string; epoch: number } | undefined;
  segments: SegmentRecord[];
}

export interface FakeFaults {
  /** The next N commitFlush calls throw without applying. */
  commitThrows: number;
  /** The next N commitFlush calls apply, then throw (a lost response). */
  commitThrowsAfterApply: number;
  /** The next N findSegmentForOffset calls throw. */
  findThrows: number;
  /** Extra latency for each commitFlush. */
  commitDelayMs: number;
  /** The next N commitFlush calls throw at once and apply `lateApplyMs` later (a statement that outlives its timeout). */
  commitAppliesLate: number;
  lateApplyMs: number;
}

const key = (t: string, p: number) => `${t}\u0000${p}`;

export class FakeMetadata implements FakeMetadataApi {
  private readonly topics = new Map<string, TopicRecord>();
  private readonly parts = new Map<string, PartState>();
  private nextId = 1;
  readonly faults: FakeFaults = { commitThrows: 0, commitThrowsAfterApply: 0, findThrows: 0, commitDelayMs: 0, commitAppliesLate: 0, lateApplyMs: 0 };
  commitCalls = 0;

  /** Creates a topic whose partitions are all leased to `agentId` at `epoch`. */
  addTopic(name: string, partitionCount: number, lease?: { agentId: string; epoch: number }): void {
    const now = Date.now();
    this.topics.set(name, { name, topicId: `id-${name}`, partitionCount, retentionMs: null, config: {}, createdAt: now, updatedAt: now });
    for (let p = 0; p < partitionCount; p++) {
      this.parts.set(key(name, p), { highWatermark: 0, logStartOffset: 0, lease, segments: [] });
    }
  }

  setLease(topic: string, partitionId: number, agentId: string, epoch: number): void {
    this.part(topic, partitionId).lease = { agentId, epoch };
  }

  private part(topic: string, partitionId: number): PartState {
    const p = this.parts.get(key(topic, partitionId));
    if (p === undefined) throw new Error(`no partition ${topic}-${partitionId}`);
    return p;
  }

  /** Retention: drops rows wholly below `offset`. */
  deleteSegmentsBelow(topic: string, partitionId: number, offset: number): SegmentRecord[] {
    const p = this.part(topic, partitionId);
    const dropped = p.segments.filter((s) => s.endOffset < offset);
    p.segments = p.segments.filter((s) => s.endOffset >= offset);
    p.logStartOffset = Math.max(p.logStartOffset, offset);
    return dropped;
  }

  deleteTopic(name: string): void {
    const t = this.topics.get(name);
    if (t === undefined) return;
    for (let p = 0; p < t.partitionCount; p++) this.parts.delete(key(name, p));
    this.topics.delete(name);
  }

  segments(topic: string, partitionId: number): SegmentRecord[] {
    return [...this.part(topic, partitionId).segments];
  }

  async commitFlush(agentId: string, partitions: FlushCommitPartition[]): Promise<FlushCommitResult> {
    this.commitCalls++;
    if (this.faults.commitDelayMs > 0) await new Promise((r) => setTimeout(r, this.faults.commitDelayMs));
    if (this.faults.commitThrows > 0) {
      this.faults.commitThrows--;
      throw new Error('metadata store unreachable (injected)');
    }
    if (this.faults.commitAppliesLate > 0) {
      this.faults.commitAppliesLate--;
      const late = this.faults.lateApplyMs;
      setTimeout(() => void this.commitFlush(agentId, partitions), late);
      throw new Error('statement timeout (injected; the statement still runs)');
    }
    const fenced: Array<{ topic: string; partitionId: number; reason: FenceReason }> = [];
    for (const c of partitions) {
      const p = this.parts.get(key(c.topic, c.partitionId));
      let reason: FenceReason | undefined;
      if (p === undefined) reason = 'unknown_partition';
      else if (p.lease === undefined || p.lease.agentId !== agentId || p.lease.epoch !== c.leaseEpoch) reason = 'lease';
      else if (p.highWatermark !== c.expectedHighWatermark || c.segment.baseOffset !== c.expectedHighWatermark) reason = 'offset';
      if (reason !== undefined) fenced.push({ topic: c.topic, partitionId: c.partitionId, reason });
    }
    if (fenced.length > 0) return { committed: false, fenced };
    const now = Date.now();
    for (const c of partitions) {
      const p = this.part(c.topic, c.partitionId);
      p.segments.push({ ...c.segment, id: c.segment.id ?? String(this.nextId++), createdAt: now });
      p.highWatermark = c.segment.endOffset + 1;
    }
    if (this.faults.commitThrowsAfterApply > 0) {
      this.faults.commitThrowsAfterApply--;
      throw new Error('connection lost after commit (injected)');
    }
    return { committed: true };
  }

  async findSegmentForOffset(topic: string, partitionId: number, offset: number): Promise<SegmentRecord | undefined> {
    if (this.faults.findThrows > 0) {
      this.faults.findThrows--;
      throw new Error('metadata store unreachable (injected)');
    }
    const p = this.parts.get(key(topic, partitionId));
    return p?.segments.find((s) => s.baseOffset <= offset && offset <= s.endOffset);
  }

  async listSegments(topic: string, partitionId: number, fromOffset = 0, limit = Number.MAX_SAFE_INTEGER): Promise<SegmentRecord[]> {
    const p = this.parts.get(key(topic, partitionId));
    if (p === undefined) return [];
    return p.segments.filter((s) => s.endOffset >= fromOffset).slice(0, limit);
  }

  async listTopics(): Promise<TopicRecord[]> {
    return [...this.topics.values()];
  }

  async getPartitions(topic: string): Promise<PartitionRecord[]> {
    const t = this.topics.get(topic);
    if (t === undefined) return [];
    const out: PartitionRecord[] = [];
    for (let i = 0; i < t.partitionCount; i++) {
      const p = await this.getPartition(topic, i);
      if (p !== undefined) out.push(p);
    }
    return out;
  }

  async getPartition(topic: string, partitionId: number): Promise<PartitionRecord | undefined> {
    const p = this.parts.get(key(topic, partitionId));
    if (p === undefined) return undefined;
    return {
      topic,
      partitionId,
      highWatermark: p.highWatermark,
      logStartOffset: p.logStartOffset,
      leaderEpoch: p.lease?.epoch ?? 0,
      createdAt: 0,
      updatedAt: 0,
    };
  }
}
