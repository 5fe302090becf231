// A user-facing failure of an admin command: printed as one line on stderr, with a non-zero exit
// code (1: the request failed, 2: the command line is wrong), never a stack trace.
import { KafkaError } from '../../protocol/errors.js';
import { DataDirInUseError } from '../data-dir-lock.js';

export class AdminError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** The one line to print for any failure (known ones say what to do; others say what happened). */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof AdminError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof DataDirInUseError) return { message: err.message, exitCode: 1 };
  if (err instanceof KafkaError) return { message: err.message, exitCode: 1 };
  if (err instanceof Error) return { message: err.message, exitCode: 1 };
  return { message: String(err), exitCode: 1 };
}
