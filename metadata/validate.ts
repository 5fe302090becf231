// Input checks done before any SQL runs: Kafka's topic-name rules, partition-count bounds, offsets.
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { NewSegment } from './types.js';

export const MAX_TOPIC_NAME_LENGTH = 249;
/**
 * Largest partition count of one topic. Creating a topic writes one row per partition in one statement;
 * 100,000 rows take a few seconds on PostgreSQL and stay well inside memory on PGlite. Kafka itself has
 * no hard limit, but clusters beyond this are outside what one metadata database row-set should carry.
 */
export const MAX_PARTITIONS_PER_TOPIC = 100_000;
export const MAX_INT32 = 2 ** 31 - 1;
/**
 * Longest group id, in UTF-8 bytes. Kafka sets no limit, but a group id is part of two primary keys and
 * a btree entry holds at most 2704 bytes: 1024 bytes stay below it even when every character is one the
 * store escapes into two (stored-text.ts) and the topic name has its 249.
 */
export const MAX_GROUP_ID_BYTES = 1024;

const LEGAL_TOPIC_CHARS = /^[a-zA-Z0-9._-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why `name` is not a legal topic name, or undefined if it is. */
export function topicNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'topic name must be a string';
  if (name.length === 0) return 'topic name is empty';
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    return `topic name is ${name.length} characters long; the limit is ${MAX_TOPIC_NAME_LENGTH}`;
  }
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (!LEGAL_TOPIC_CHARS.test(name)) {
    return `topic name "${name}" is illegal: only ASCII letters, digits, '.', '_' and '-' are allowed`;
  }
  return undefined;
}

export function isValidTopicName(name: unknown): name is string {
  return topicNameProblem(name) === undefined;
}

export function assertTopicName(name: unknown): asserts name is string {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
}

export function assertPartitionCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS_PER_TOPIC) {
    throw new KafkaError(
      ErrorCode.INVALID_PARTITIONS,
      `partition count must be an integer from 1 to ${MAX_PARTITIONS_PER_TOPIC}, got ${String(count)}`,
    );
  }
}

export function isPartitionId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= MAX_INT32;
}

export function isUuid(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

function invalid(message: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_REQUEST, message);
}

export function assertPartitionId(id: unknown, what = 'partition id'): asserts id is number {
  if (!isPartitionId(id)) throw invalid(`${what} must be an integer from 0 to ${MAX_INT32}, got ${String(id)}`);
}

/** A non-negative safe integer (offsets, sizes). */
export function assertNonNegative(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

export function assertSafeInteger(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalid(`${what} must be an integer, got ${String(value)}`);
  }
}

export function assertInt32(value: unknown, what: string, min = -(2 ** 31)): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_INT32) {
    throw invalid(`${what} must be an integer from ${min} to ${MAX_INT32}, got ${String(value)}`);
  }
}

export function assertPositiveMs(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(`${what} must be a positive number of milliseconds, got ${String(value)}`);
  }
}

/** retention.ms: null (broker default), -1 (unlimited) or a positive number of milliseconds. */
export function assertRetentionMs(value: unknown): asserts value is number | null | undefined {
  if (value === null || value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1 || value === 0) {
    throw new KafkaError(ErrorCode.INVALID_CONFIG, `retention.ms must be -1 or a positive integer, got ${String(value)}`);
  }
}

export function assertTopicConfig(config: unknown): asserts config is Record<string, string> | undefined {
  if (config === undefined) return;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new KafkaError(ErrorCode.INVALID_CONFIG, 'topic config must be an object of string values');
  }
  for (const [key, value] of Object.entries(config)) {
    if (key.length === 0 || typeof value !== 'string') {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `topic config entry "${key}" must have a string value`);
    }
  }
}

export function assertGroupId(groupId: unknown): asserts groupId is string {
  if (typeof groupId !== 'string' || groupId.length === 0) {
    throw new KafkaError(ErrorCode.INVALID_GROUP_ID, 'group id must be a non-empty string');
  }
  if (groupId.length > MAX_GROUP_ID_BYTES / 3 && Buffer.byteLength(groupId, 'utf8') > MAX_GROUP_ID_BYTES) {
    throw new KafkaError(
      ErrorCode.INVALID_GROUP_ID,
      `group id is ${Buffer.byteLength(groupId, 'utf8')} bytes long (UTF-8); the limit is ${MAX_GROUP_ID_BYTES}`,
    );
  }
}

export function assertSegment(segment: NewSegment): void {
  if (segment === null || typeof segment !== 'object') throw invalid('segment missing');
  assertTopicName(segment.topic);
  assertPartitionId(segment.partitionId);
  assertNonNegative(segment.baseOffset, 'segment baseOffset');
  assertNonNegative(segment.endOffset, 'segment endOffset');
  if (segment.endOffset < segment.baseOffset) {
    throw invalid(`segment endOffset ${segment.endOffset} is below its baseOffset ${segment.baseOffset}`);
  }
  assertInt32(segment.recordCount, 'segment recordCount', 0);
  assertNonNegative(segment.sizeBytes, 'segment sizeBytes');
  assertNonNegative(segment.bytePosition, 'segment bytePosition');
  assertNonNegative(segment.byteLength, 'segment byteLength');
  assertSafeInteger(segment.maxTimestamp, 'segment maxTimestamp');
  if (typeof segment.s3Bucket !== 'string') throw invalid('segment s3Bucket must be a string');
  if (typeof segment.s3Key !== 'string' || segment.s3Key.length === 0) throw invalid('segment s3Key must be set');
  if (segment.id !== undefined && (typeof segment.id !== 'string' || segment.id.length === 0)) {
    throw invalid('segment id must be a non-empty string');
  }
}
