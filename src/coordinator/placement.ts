// Which live broker coordinates a group (or transactional id). Every agent computes the same answer
// from the same live set: rendezvous (highest random weight) hashing over node ids, so when a broker
// joins or leaves only the keys it wins or held move.

/** 32-bit FNV-1a of the UTF-8 bytes of `s`, mixed with `seed`. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so near-identical keys spread over nodes.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The coordinator node for `key` among `nodeIds`, or undefined when there is none. */
export function coordinatorNodeFor(key: string, nodeIds: readonly number[]): number | undefined {
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
