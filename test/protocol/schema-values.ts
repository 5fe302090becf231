// Builds random values of any generated schema at a version, shaped exactly like the codec's decoded
// output (every declared field present, absent ones at their default), for round-trip and fuzz tests.
import { defaultFieldValue } from '../../protocol/codec.js';
import { inRange, type FieldSchema, type MessageSchema, type StructSchema } from '../../protocol/schema.js';

export type Rng = () => number;

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(r: Rng, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

const SAMPLES = ['', 'a', 'topic-1', 'ünïcødé', '日本語のトピック', 'emoji 🚀🔥', 'x'.repeat(200), 'mixed ascii and ß'];

export interface ValueOptions {
  /** Probability of null where the version allows it. */
  nullRate: number;
  /** Probability of adding unknown tagged fields to a flexible struct. */
  unknownTagRate: number;
  /** Largest array length. */
  maxItems: number;
}

const DEFAULT_OPTIONS: ValueOptions = { nullRate: 0.2, unknownTagRate: 0.2, maxItems: 3 };

function randomString(r: Rng): string {
  if (r() < 0.5) return SAMPLES[int(r, 0, SAMPLES.length - 1)];
  let s = '';
  const n = int(r, 0, 20);
  for (let i = 0; i < n; i++) {
    const k = r();
    if (k < 0.6) s += String.fromCharCode(int(r, 0x20, 0x7e));
    else if (k < 0.8) s += String.fromCharCode(int(r, 0xa0, 0x7ff));
    else if (k < 0.95) s += String.fromCharCode(int(r, 0x800, 0xd7ff));
    else s += String.fromCodePoint(int(r, 0x10000, 0x10ffff));
  }
  return s;
}

function randomUuid(r: Rng): string {
  if (r() < 0.2) return '00000000-0000-0000-0000-000000000000';
  const hex = Array.from({ length: 32 }, () => int(r, 0, 15).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function randomBytes(r: Rng): Buffer {
  const n = r() < 0.1 ? int(r, 1024, 3000) : int(r, 0, 40);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 0, 255);
  return b;
}

function randomPrimitive(r: Rng, type: string): unknown {
  switch (type) {
    case 'bool':
      return r() < 0.5;
    case 'int8':
      return int(r, -128, 127);
    case 'int16':
      return int(r, -32768, 32767);
    case 'uint16':
      return int(r, 0, 65535);
    case 'int32':
      return r() < 0.3 ? int(r, -2, 2) : int(r, -(2 ** 31), 2 ** 31 - 1);
    case 'uint32':
      return int(r, 0, 2 ** 32 - 1);
    case 'int64':
      return r() < 0.3 ? int(r, -2, 2) : int(r, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'float64':
      return r() < 0.2 ? 0 : (r() - 0.5) * 1e12;
    case 'string':
      return randomString(r);
    case 'uuid':
      return randomUuid(r);
    case 'bytes':
    case 'records':
      return randomBytes(r);
    default:
      throw new Error(`no generator for ${type}`);
  }
}

function randomField(r: Rng, fs: FieldSchema, version: number, flexible: boolean, o: ValueOptions): unknown {
  if (!inRange(fs.versions, version)) return defaultFieldValue(fs);
  if (inRange(fs.nullableVersions, version) && r() < o.nullRate) return null;
  if (fs.type === 'array') {
    const n = int(r, 0, o.maxItems);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      out.push(fs.items === 'struct' ? randomStructValue(r, fs.struct!, version, flexible, o) : randomPrimitive(r, fs.items!));
    }
    return out;
  }
  if (fs.type === 'struct') return randomStructValue(r, fs.struct!, version, flexible, o);
  return randomPrimitive(r, fs.type);
}

export function randomStructValue(
  r: Rng,
  schema: StructSchema,
  version: number,
  flexible: boolean,
  options: Partial<ValueOptions> = {},
): Record<string, unknown> {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const obj: Record<string, unknown> = {};
  let maxTag = -1;
  for (const fs of schema.fields) {
    obj[fs.name] = randomField(r, fs, version, flexible, o);
    if (fs.tag !== undefined) maxTag = Math.max(maxTag, fs.tag);
  }
  if (flexible && r() < o.unknownTagRate) {
    const n = int(r, 1, 3);
    const unknown: Array<{ tag: number; data: Buffer }> = [];
    let tag = maxTag + 1 + int(r, 0, 100);
    for (let i = 0; i < n; i++) {
      unknown.push({ tag, data: randomBytes(r) });
      tag += int(r, 1, 200);
    }
    obj._unknownTaggedFields = unknown;
  }
  return obj;
}

export function randomMessageValue(
  r: Rng,
  schema: MessageSchema,
  version: number,
  options: Partial<ValueOptions> = {},
): Record<string, unknown> {
  return randomStructValue(r, schema, version, inRange(schema.flexibleVersions, version), options);
}

/** Every version of a message schema. */
export function versionsOf(schema: MessageSchema): number[] {
  const out: number[] = [];
  for (let v = schema.validVersions[0]; v <= schema.validVersions[1]; v++) out.push(v);
  return out;
}
