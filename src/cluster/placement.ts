// Where things live in the cluster, computed the same way by every agent from the same live set
// (read from the agents table) and the same topic list: rendezvous (highest random weight) hashing
// over the live agents' node ids. Each key is weighed against every node: hash(key, node id).
//
// Group coordinators (and coordinator shards) take the heaviest node outright.
//
// Partitions use rendezvous with bounded load, per topic: the (partition, node) pairs are visited
// heaviest first and a partition goes to the first node that still has room, each node taking at
// most ⌈partitions / nodes⌉ of the topic. So:
// - balance is exact: per topic the loads differ by at most one (3 agents × 300 partitions: 100 each),
//   where plain rendezvous spreads binomially (max/min up to ~1.6 for 300 partitions, measured);
// - movement stays near the minimum: when a fourth agent joins, about 81 of 300 partitions move
//   (75 is the least possible, all of them to the new agent; the rest shuffle between agents that
//   stayed because capacities shrank); when one of three leaves about 104 move (100 are its own);
// - nothing is stored or agreed on: the answer is a function of (topic, partition count, live set),
//   so Metadata from any agent names the same intended leader once they read the same live set.
// A balancer that records assignments in PostgreSQL could weigh load, not just counts, but its
// assignment would need fencing and a handoff of its own; counts are what the target asks for.

/** 32-bit FNV-1a of the UTF-8 bytes of `s`, mixed with `seed`, then avalanched (murmur3 fmix32). */
export function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche so near-identical keys (t-1, t-2, …) spread over nodes.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The node that owns `key` among `nodeIds` (highest weight; ties to the lower id), or undefined when there is none. */
export function rendezvousNode(key: string, nodeIds: readonly number[]): number | undefined {
  let best: number | undefined;
  let bestWeight = -1;
  for (const id of nodeIds) {
    const w = hash32(key, id);
    if (w > bestWeight || (w === bestWeight && best !== undefined && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  return best;
}

/** Which live broker coordinates a group (or transactional id). */
export const coordinatorNodeFor = rendezvousNode;

const PLACEMENT_CACHE_ENTRIES = 4096;
const placements = new Map<string, Int32Array>();

/**
 * The intended leader of every partition of a topic among `nodeIds` (bounded-load rendezvous, see
 * the file comment); -1 everywhere when no node is live. Cached per (topic, count, live set).
 */
export function placeTopic(topic: string, partitionCount: number, nodeIds: readonly number[]): Int32Array {
  const nodes = [...new Set(nodeIds)].sort((a, b) => a - b);
  const cacheKey = `${topic}\u0000${partitionCount}\u0000${nodes.join(',')}`;
  const hit = placements.get(cacheKey);
  if (hit) return hit;
  const out = new Int32Array(partitionCount).fill(-1);
  if (nodes.length > 0 && partitionCount > 0) {
    const cap = Math.ceil(partitionCount / nodes.length);
    const n = nodes.length;
    // Pair i = partition ⌊i / n⌋ on node nodes[i % n]; weights in one typed array, sorted by index.
    const weights = new Float64Array(partitionCount * n);
    for (let p = 0; p < partitionCount; p++) {
      const k = partitionKey(topic, p);
      for (let j = 0; j < n; j++) weights[p * n + j] = hash32(k, nodes[j]!);
    }
    const order = new Uint32Array(partitionCount * n);
    for (let i = 0; i < order.length; i++) order[i] = i;
    // Heaviest first; ties (rare) to the lower node id, then the lower partition.
    order.sort((a, b) => weights[b]! - weights[a]! || (a % n) - (b % n) || a - b);
    const load = new Int32Array(n);
    let left = partitionCount;
    for (let i = 0; i < order.length && left > 0; i++) {
      const pair = order[i]!;
      const p = Math.floor(pair / n);
      const j = pair % n;
      if (out[p] !== -1 || load[j]! >= cap) continue;
      out[p] = nodes[j]!;
      load[j]!++;
      left--;
    }
  }
  if (placements.size >= PLACEMENT_CACHE_ENTRIES) placements.delete(placements.keys().next().value!);
  placements.set(cacheKey, out);
  return out;
}

/** The placement key of a topic-partition (NUL cannot occur in a topic name). */
export function partitionKey(topic: string, partitionId: number): string {
  return `${topic}\u0000${partitionId}`;
}

/** The intended leader of a topic-partition among `nodeIds` (undefined when none is live). */
export function intendedLeader(topic: string, partitionId: number, partitionCount: number, nodeIds: readonly number[]): number | undefined {
  if (partitionId < 0 || partitionId >= partitionCount) return undefined;
  const n = placeTopic(topic, partitionCount, nodeIds)[partitionId]!;
  return n === -1 ? undefined : n;
}

/** The partitions of `topics` whose intended leader is `self` among `nodeIds`. */
export function shareOf(
  self: number,
  topics: ReadonlyArray<{ name: string; partitionCount: number }>,
  nodeIds: readonly number[],
): Array<{ topic: string; partitionId: number }> {
  const out: Array<{ topic: string; partitionId: number }> = [];
  if (!nodeIds.includes(self)) return out;
  for (const t of topics) {
    const placed = placeTopic(t.name, t.partitionCount, nodeIds);
    for (let p = 0; p < t.partitionCount; p++) if (placed[p] === self) out.push({ topic: t.name, partitionId: p });
  }
  return out;
}
