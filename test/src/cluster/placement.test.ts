// Placement: bounded-load rendezvous hashing per topic. Balance across agents, near-minimal movement
// when one joins or leaves, and the coordinator's placement unchanged by the move to src/cluster/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinatorNodeFor, intendedLeader, placeTopic, rendezvousNode, shareOf } from '../../../src/cluster/placement.js';
import { coordinatorNodeFor as fromCoordinator } from '../../../src/coordinator/index.js';

function counts(topics: Array<{ name: string; partitionCount: number }>, nodes: number[]): Map<number, number> {
  const c = new Map(nodes.map((n) => [n, 0]));
  for (const t of topics) for (const n of placeTopic(t.name, t.partitionCount, nodes)) c.set(n, c.get(n)! + 1);
  return c;
}

const ratio = (c: Map<number, number>) => Math.max(...c.values()) / Math.min(...c.values());

test('3 agents × 300 partitions: max/min partitions per agent ≤ 1.2 (exactly 100 each), whatever the topic name or node ids', () => {
  for (const nodes of [[0, 1, 2], [1, 2, 3], [0, 5, 9], [7, 8, 12]]) {
    for (let i = 0; i < 20; i++) assert.deepEqual([...counts([{ name: `topic-${i}`, partitionCount: 300 }], nodes).values()], [100, 100, 100]);
  }
  // 300 partitions as 30 topics of 10: each topic 4/3/3, spread by the hash.
  const many = counts(Array.from({ length: 30 }, (_, i) => ({ name: `t${i}`, partitionCount: 10 })), [0, 1, 2]);
  assert.ok(ratio(many) <= 1.2, `30 × 10: ${[...many.values()]}`);
  // Uneven: 301 partitions over 3, 1000 over 7.
  assert.ok(ratio(counts([{ name: 'odd', partitionCount: 301 }], [0, 1, 2])) <= 101 / 99); // ⌈301/3⌉ = 101 at most each
  assert.ok(ratio(counts([{ name: 'big', partitionCount: 1000 }], [0, 1, 2, 3, 4, 5, 6])) <= 143 / 142);
});

test('an agent joining takes its share, nearly all moved straight to it; one leaving moves little more than its own', () => {
  let moved = 0;
  let betweenStayers = 0;
  let movedOnLeave = 0;
  const topics = 20;
  for (let i = 0; i < topics; i++) {
    const before = placeTopic(`events-${i}`, 300, [0, 1, 2]);
    const joined = placeTopic(`events-${i}`, 300, [0, 1, 2, 3]);
    const left = placeTopic(`events-${i}`, 300, [0, 2]);
    for (let p = 0; p < 300; p++) {
      if (before[p] !== joined[p]) {
        moved++;
        if (joined[p] !== 3) betweenStayers++;
      }
      if (before[p] !== left[p]) movedOnLeave++;
    }
  }
  // The least possible: 75 per topic on join (all to the new agent), 100 on leave (its own).
  assert.ok(moved / topics <= 75 * 1.15, `join moved ${moved / topics} per topic`);
  assert.ok(betweenStayers / topics <= 75 * 0.15, `join shuffled ${betweenStayers / topics} per topic between agents that stayed`);
  assert.ok(movedOnLeave / topics <= 100 * 1.1, `leave moved ${movedOnLeave / topics} per topic`);
});

test('shares cover every partition once; the live set order does not matter; no live agent, no leader', () => {
  const topics = [{ name: 'x', partitionCount: 50 }, { name: 'y', partitionCount: 7 }];
  const all = [0, 1, 2].flatMap((n) => shareOf(n, topics, [0, 1, 2]).map((r) => `${r.topic}-${r.partitionId}`));
  assert.equal(new Set(all).size, 57);
  assert.equal(all.length, 57);
  for (let p = 0; p < 50; p++) assert.equal(intendedLeader('x', p, 50, [2, 0, 1]), intendedLeader('x', p, 50, [0, 1, 2]));
  assert.equal(intendedLeader('x', 0, 50, []), undefined);
  assert.equal(intendedLeader('x', 50, 50, [0]), undefined);
  assert.deepEqual(shareOf(5, topics, [0, 1]), []); // an agent not live has no share
  assert.equal(shareOf(0, topics, [0]).length, 57);
});

test('group coordinator placement is the same function, re-exported where the coordinator imports it, with the same answers as before the move', () => {
  assert.equal(fromCoordinator, coordinatorNodeFor);
  assert.equal(coordinatorNodeFor, rendezvousNode);
  // Computed with src/coordinator/placement.ts before the move: no group changes coordinator.
  assert.deepEqual(['g1', 'group-a', 'orders', 'x'].map((g) => coordinatorNodeFor(g, [0, 1, 2])), EXPECTED);
});

const EXPECTED = [0, 1, 2, 1];
