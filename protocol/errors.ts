// The one table of Kafka error codes. Handlers return these as data; nothing else writes a bare
// error number. A KafkaError may be thrown deep in a call chain and is mapped at the handler boundary.
import { ErrorCode, RETRIABLE_ERROR_CODES } from './generated/error-codes.js';

export { ErrorCode };
export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

const NAMES = new Map<number, ErrorCodeName>(
  (Object.entries(ErrorCode) as Array<[ErrorCodeName, number]>).map(([name, code]) => [code, name]),
);

export function errorName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_ERROR_CODE_${code}`;
}

export function isRetriable(code: number): boolean {
  return RETRIABLE_ERROR_CODES.has(code);
}

/** An error that carries a Kafka error code, mapped to the response at the handler boundary. */
export class KafkaError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message?: string, options?: { cause?: unknown }) {
    super(message ?? errorName(code), options);
    this.name = 'KafkaError';
    this.code = code;
  }
  get retriable(): boolean {
    return isRetriable(this.code);
  }
}
