// Storage-level errors. Object stores throw these; the writer and reader turn them into KafkaErrors
// (KAFKA_STORAGE_ERROR, retriable) at their boundary so the agent only ever sees Kafka codes.
import { ErrorCode, KafkaError, type ErrorCodeValue } from '../protocol/errors.js';

/** get() of a key that does not exist. */
export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(key: string, options?: { cause?: unknown }) {
    super(`object not found: ${key}`, options);
    this.name = 'ObjectNotFoundError';
    this.key = key;
  }
}

/** Any other object-store failure, after the store's own retries. */
export class ObjectStoreError extends Error {
  readonly key: string | undefined;
  readonly op: string;
  /** Worth retrying later (throttling, 5xx, timeouts, network), as opposed to e.g. access denied. */
  readonly retriable: boolean;
  readonly status: number | undefined;
  constructor(op: string, key: string | undefined, message: string, opts: { retriable: boolean; status?: number; cause?: unknown }) {
    super(`${op}${key === undefined ? '' : ' ' + key}: ${message}`, { cause: opts.cause });
    this.name = 'ObjectStoreError';
    this.op = op;
    this.key = key;
    this.retriable = opts.retriable;
    this.status = opts.status;
  }
}

/** A segment object (or chunk) whose bytes fail a checksum or structural check. Never served. */
export class CorruptSegmentError extends Error {
  readonly key: string;
  readonly position: number;
  constructor(key: string, position: number, detail: string) {
    super(`corrupt segment object ${key} at byte ${position}: ${detail}`);
    this.name = 'CorruptSegmentError';
    this.key = key;
    this.position = position;
  }
}

/** Maps anything thrown by the object store / format code to a KafkaError for the agent. */
export function toKafkaStorageError(err: unknown, what: string, code: ErrorCodeValue = ErrorCode.KAFKA_STORAGE_ERROR): KafkaError {
  if (err instanceof KafkaError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new KafkaError(code, `${what}: ${msg}`, { cause: err });
}
