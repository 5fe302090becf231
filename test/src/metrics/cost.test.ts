import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3_STANDARD_US_EAST_1, costPerGiB, listRequests, requestCost, storageCostPerMonth } from '../../../src/metrics/cost.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

test('request cost: PUT and LIST at the PUT price, GET at the GET price, DELETE free', () => {
  const p = S3_STANDARD_US_EAST_1;
  close(requestCost('put', 1000, p), 0.005);
  close(requestCost('list', 2000, p), 0.01);
  close(requestCost('get', 1000, p), 0.0004);
  close(requestCost('get', 1, p), 0.0000004);
  assert.equal(requestCost('delete', 1e6, p), 0);
});

test('storage cost per month is per GB of 10^9 bytes, as AWS bills', () => {
  close(storageCostPerMonth(1e9, S3_STANDARD_US_EAST_1), 0.023);
  close(storageCostPerMonth(500e9, { putPer1000: 0, getPer1000: 0, storageGbMonth: 0.0125 }), 6.25);
});

test('cost per GiB: request cost over GiB moved, 0 before any byte', () => {
  // 1,024 PUTs of 1 MiB each: 1 GiB for 1,024 × $0.005/1000.
  const usd = requestCost('put', 1024, S3_STANDARD_US_EAST_1);
  close(costPerGiB(usd, 1024 ** 3), 0.00512);
  close(costPerGiB(usd, 2 * 1024 ** 3), 0.00256);
  assert.equal(costPerGiB(0, 0), 0);
  assert.equal(costPerGiB(1, 0), 0);
});

test('a listing is one request per page of 1,000 keys, at least one', () => {
  assert.equal(listRequests(0), 1);
  assert.equal(listRequests(1000), 1);
  assert.equal(listRequests(1001), 2);
  assert.equal(listRequests(5, 2), 3);
});
