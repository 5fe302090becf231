// The leader's aborted-transactions index follows the log start offset: entries whose abort marker
// fell below it are dropped from memory and from aborted_txns, open-ended entries stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionTransactions } from '../../../src/transactions/partition-txns.js';
import type { AbortedTxn, TxnStore } from '../../../src/transactions/store.js';

function fakeStore(rows: AbortedTxn[]) {
  const prunes: number[] = [];
  const store = {
    loadAborted: async (_t: string, _p: number, from: number) => rows.filter((r) => r.lastOffset === null || r.lastOffset >= from).map((r) => ({ ...r })),
    pruneAborted: async (_t: string, _p: number, logStart: number) => {
      prunes.push(logStart);
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.lastOffset !== null && rows[i]!.lastOffset! < logStart) rows.splice(i, 1);
    },
  };
  return { store: store as unknown as TxnStore, prunes, rows };
}

const log = { lead: async () => 1, append: async () => ({ baseOffset: 0, lastOffset: 0 }), openTransaction: () => undefined };

test('aborted index: entries below the log start offset are pruned in memory and in the database', async () => {
  const { store, prunes, rows } = fakeStore([
    { producerId: 1, firstOffset: 0, lastOffset: 10 },
    { producerId: 2, firstOffset: 5, lastOffset: 30 },
    { producerId: 3, firstOffset: 40, lastOffset: null },
  ]);
  const txns = new PartitionTransactions(log, store, 'agent');
  assert.deepEqual((await txns.abortedBetween('t', 0, 1, 0, 100)).map((e) => e.producerId), [1, 2, 3]);
  // Retention moved the log start to 20: producer 1's abort is unreachable, 2's still overlaps.
  assert.deepEqual((await txns.abortedBetween('t', 0, 1, 20, 100, 20)).map((e) => e.producerId), [2, 3]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(prunes, [20]);
  assert.deepEqual(rows.map((r) => r.producerId), [2, 3]);
  // A new leader (next lease epoch) loads only what is left, and prunes the database at once.
  const other = new PartitionTransactions(log, store, 'agent-2');
  assert.deepEqual((await other.abortedBetween('t', 0, 2, 35, 100, 35)).map((e) => e.producerId), [3]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(prunes, [20, 35]);
  assert.deepEqual(rows.map((r) => r.producerId), [3], 'the open-ended entry stays');
});
