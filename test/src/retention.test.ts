import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SegmentRecord } from '../../metadata/types.js';
import { retentionCutoff } from '../../src/retention.js';

const NOW = 1_800_000_000_000;
function seg(baseOffset: number, endOffset: number, ageMs: number, sizeBytes = 100): SegmentRecord {
  return { id: String(baseOffset), topic: 't', partitionId: 0, baseOffset, endOffset, recordCount: endOffset - baseOffset + 1, sizeBytes, s3Bucket: '', s3Key: 'k', bytePosition: 0, byteLength: sizeBytes, maxTimestamp: NOW - ageMs, createdAt: 0 };
}

test('time: segments whose newest record is older than retention.ms go, up to the first younger one', () => {
  const segs = [seg(0, 9, 5000), seg(10, 19, 4000), seg(20, 29, 500), seg(30, 39, 6000)];
  assert.equal(retentionCutoff(segs, NOW, 1000, -1), 20);
  assert.equal(retentionCutoff(segs, NOW, 10_000, -1), undefined);
  assert.equal(retentionCutoff(segs, NOW, -1, -1), undefined);
});

test('the newest segment is always kept, however old', () => {
  assert.equal(retentionCutoff([seg(0, 9, 9000), seg(10, 19, 9000)], NOW, 1000, -1), 10);
  assert.equal(retentionCutoff([seg(0, 9, 9000)], NOW, 1000, 0), undefined);
  assert.equal(retentionCutoff([], NOW, 1000, 0), undefined);
});

test('size: the oldest segments beyond retention.bytes go; both limits apply together', () => {
  const segs = [seg(0, 9, 0, 300), seg(10, 19, 0, 300), seg(20, 29, 0, 300), seg(30, 39, 0, 300)];
  assert.equal(retentionCutoff(segs, NOW, -1, 600), 20);
  assert.equal(retentionCutoff(segs, NOW, -1, 650), 20);
  assert.equal(retentionCutoff(segs, NOW, -1, 1200), undefined);
  assert.equal(retentionCutoff([seg(0, 9, 5000, 300), ...segs.slice(1)], NOW, 1000, 10_000), 10);
});
