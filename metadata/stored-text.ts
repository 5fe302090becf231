// Client strings in text columns. Kafka strings may hold any Unicode character, NUL included, but a
// PostgreSQL text value cannot (`invalid byte sequence for encoding "UTF8": 0x00`). The store writes
// them escaped: U+0001 becomes U+0001 '1' and NUL becomes U+0001 '0'; every other string is stored as
// it is. The escape is deterministic, so equality lookups and primary keys work on the stored form.
// JSON documents need none of this: they are json columns, which keep `\u0000` as written.
import { ErrorCode, KafkaError } from '../protocol/errors.js';

const ESCAPE = '\u0001';
/** Characters that need a look: the two escaped ones and surrogates (only lone ones are refused). */
const SPECIAL = /[\u0000\u0001\ud800-\udfff]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** The stored form of a client string. Throws INVALID_REQUEST for a lone surrogate, which has no
 * UTF-8 form (the protocol decoder never produces one: it replaces invalid UTF-8 with U+FFFD). */
export function toStored(s: string, what: string): string {
  if (!SPECIAL.test(s)) return s;
  if (LONE_SURROGATE.test(s)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `${what} is not valid Unicode (a lone surrogate)`);
  return s.replace(/[\u0000\u0001]/g, (c) => (c === ESCAPE ? '\u00011' : '\u00010'));
}

export function toStoredOrNull(s: string | null | undefined, what: string): string | null {
  return s === null || s === undefined ? null : toStored(s, what);
}

/** The client string a stored value stands for. */
export function fromStored(s: string): string {
  if (!s.includes(ESCAPE)) return s;
  return s.replace(/\u0001([01])/g, (_, c: string) => (c === '1' ? ESCAPE : '\u0000'));
}

export function fromStoredOrNull(s: string | null): string | null {
  return s === null ? null : fromStored(s);
}
