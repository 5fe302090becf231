// Maps database and driver failures to KafkaErrors. Losing the database is retriable for clients
// (KAFKA_STORAGE_ERROR: producers and consumers refresh metadata and retry); constraint violations and
// data errors that mean "no such topic-partition" or "bad input" get their Kafka codes, never retriable
// ones; anything else is a bug and is rethrown unchanged (it becomes UNKNOWN_SERVER_ERROR at the handler
// boundary).
import { ErrorCode, KafkaError } from '../protocol/errors.js';

/** The code callers get when the metadata database is unreachable or the connection broke. */
export const DATABASE_UNAVAILABLE = ErrorCode.KAFKA_STORAGE_ERROR;

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // unix socket gone
]);

const CONNECTION_MESSAGES = [
  'Connection terminated',
  'connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended',
  'server closed the connection unexpectedly',
  'terminating connection',
];

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The innermost error (drizzle and pg wrap driver errors in `cause`). */
export function rootCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 5 && e instanceof Error && e.cause !== undefined && !sqlState(e); i++) e = e.cause;
  return e;
}

/** True for failures of the connection itself (server down, restarted, backend terminated, pool timeout). */
export function isConnectionError(err: unknown): boolean {
  const e = rootCause(err);
  const state = sqlState(e);
  if (state !== undefined) {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now; 53: insufficient
    // resources (too many connections); 58: system I/O error.
    return state.startsWith('08') || state.startsWith('57P') || state.startsWith('53') || state.startsWith('58');
  }
  const errno = (e as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && CONNECTION_ERRNOS.has(errno)) return true;
  const message = e instanceof Error ? e.message : String(e);
  return CONNECTION_MESSAGES.some((m) => message.includes(m));
}

/** Serialization failure or deadlock: the statement had no effect and may simply be run again. */
export function isTransientConflict(err: unknown): boolean {
  const state = sqlState(rootCause(err));
  return state === '40001' || state === '40P01';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Converts a failure of `operation` into the KafkaError callers should see (or returns it unchanged). */
export function toKafkaError(err: unknown, operation: string): unknown {
  if (err instanceof KafkaError) return err;
  const e = rootCause(err);
  if (isConnectionError(e)) {
    return new KafkaError(DATABASE_UNAVAILABLE, `metadata database unavailable during ${operation}: ${messageOf(e)}`, {
      cause: err,
    });
  }
  const state = sqlState(e);
  // Class 22 (data exception: a character the encoding refuses, a value out of range, malformed json)
  // and 54000 (program_limit_exceeded: an index entry too large) are caused by the request's values:
  // asking again cannot help, so the client gets a non-retriable error instead of retrying forever.
  if (state !== undefined && (state.startsWith('22') || state === '54000')) {
    return new KafkaError(ErrorCode.INVALID_REQUEST, `${operation}: ${messageOf(e)}`, { cause: err });
  }
  switch (state) {
    case '23503': // foreign_key_violation: the topic-partition does not exist (or was just deleted)
      return new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${operation}: unknown topic or partition`, {
        cause: err,
      });
    case '23505': // unique_violation (e.g. a segment id used twice)
    case '23514': // check_violation
    case '23502': // not_null_violation
      return new KafkaError(ErrorCode.INVALID_REQUEST, `${operation}: ${messageOf(e)}`, { cause: err });
    case '40001':
    case '40P01':
    case '55P03': // lock_not_available
      return new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `${operation}: ${messageOf(e)}`, { cause: err });
    case '55000': // object_not_in_prerequisite_state: a segment object the cleaner is deleting (object registry)
      return new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${operation}: ${messageOf(e)}`, { cause: err });
    case '57014': // query_canceled (statement_timeout)
      return new KafkaError(ErrorCode.REQUEST_TIMED_OUT, `${operation} timed out: ${messageOf(e)}`, { cause: err });
    default:
      return err;
  }
}

/**
 * registerAgent with `liveWithinMs`: another agent registered under this agent id sent a heartbeat
 * within the window. `holder` is that agent's row (its address, node id and last heartbeat).
 */
export class AgentIdInUseError extends KafkaError {
  constructor(
    readonly holder: { agentId: string; nodeId: number; host: string; port: number; lastHeartbeat: number },
    readonly heartbeatAgeMs: number,
  ) {
    super(
      ErrorCode.INVALID_REQUEST,
      `agent id ${holder.agentId} is in use by a live agent at ${holder.host}:${holder.port} (node id ${holder.nodeId}, ` +
        `last heartbeat ${Math.max(0, heartbeatAgeMs)} ms ago)`,
    );
    this.name = 'AgentIdInUseError';
  }
}
