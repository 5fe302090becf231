// The transition table of the classic group states (Kafka's validPreviousStates).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_STATE_NAMES, IllegalGroupTransition, canTransition, transition, type GroupState, type GroupStateName } from '../../../src/coordinator/index.js';

const state = (kind: GroupStateName): GroupState => {
  switch (kind) {
    case 'PreparingRebalance':
      return { kind, initial: false, newMemberAdded: false };
    case 'CompletingRebalance':
    case 'Stable':
      return { kind, pendingSync: new Set() };
    default:
      return { kind };
  }
};

const ALLOWED = new Set([
  'Empty>PreparingRebalance',
  'Empty>Dead',
  'PreparingRebalance>CompletingRebalance',
  'PreparingRebalance>Empty',
  'PreparingRebalance>Dead',
  'CompletingRebalance>Stable',
  'CompletingRebalance>PreparingRebalance',
  'CompletingRebalance>Dead',
  'Stable>PreparingRebalance',
  'Stable>Dead',
  'Dead>Dead',
]);

test('every pair of states: allowed exactly when the table says so', () => {
  for (const from of GROUP_STATE_NAMES) {
    for (const to of GROUP_STATE_NAMES) {
      const ok = ALLOWED.has(`${from}>${to}`);
      assert.equal(canTransition(from, to), ok, `${from} → ${to}`);
      if (ok) assert.equal(transition('g', state(from), state(to)).kind, to);
      else assert.throws(() => transition('g', state(from), state(to)), IllegalGroupTransition);
    }
  }
});

test('the error names the group and both states', () => {
  assert.throws(() => transition('orders', state('Empty'), state('Stable')), /group orders: Stable cannot be entered from Empty/);
});
