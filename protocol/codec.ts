// The one generic codec: interprets any generated schema at any version. A (struct, version) pair is
// compiled once into a StructPlan (which fields are on the wire, which are tagged, which encoding each
// uses, defaults) and cached; encode/decode then walk the plan with no per-call closures.
//
// Decoded objects always carry every field the schema declares (defaults for fields absent at that
// version). bytes/records decode to subarray views of the frame. Unknown tagged fields are kept in
// `_unknownTaggedFields` and re-emitted on encode, merged by tag order.
import { inRange, type FieldSchema, type MessageSchema, type StructSchema, type UnknownTaggedField } from './schema.js';
import { Reader, ZERO_UUID } from './reader.js';
import { Writer, utf8Length } from './writer.js';
import { DecodeError } from './varint.js';

// Field type codes.
const T_BOOL = 0;
const T_INT8 = 1;
const T_INT16 = 2;
const T_UINT16 = 3;
const T_INT32 = 4;
const T_UINT32 = 5;
const T_INT64 = 6;
const T_FLOAT64 = 7;
const T_STRING = 8;
const T_BYTES = 9;
const T_UUID = 10;
const T_RECORDS = 11;
const T_STRUCT = 12;
const T_ARRAY = 13;

const TYPE_CODES: Record<string, number> = {
  bool: T_BOOL, int8: T_INT8, int16: T_INT16, uint16: T_UINT16, int32: T_INT32, uint32: T_UINT32,
  int64: T_INT64, float64: T_FLOAT64, string: T_STRING, bytes: T_BYTES, uuid: T_UUID, records: T_RECORDS,
  struct: T_STRUCT, array: T_ARRAY,
};

// Field modes at one version.
const M_ABSENT = 0;
const M_WIRE = 1;
const M_TAGGED = 2;

const EMPTY_BUFFER = Buffer.alloc(0);
const EMPTY_ARRAY: readonly unknown[] = Object.freeze([]);
const EMPTY_OBJECT: Readonly<Record<string, unknown>> = Object.freeze({});

/** Values accepted where the schema says bytes/records: one Buffer or chunks written back to back. */
export type BytesInput = Buffer | readonly Buffer[];

/** What the encoder accepts for a decoded type T: Buffers may also be Buffer[] chunks; arrays may be readonly. */
export type Encodable<T> = T extends Buffer
  ? BytesInput
  : T extends ReadonlyArray<infer U>
    ? ReadonlyArray<Encodable<U>>
    : T extends object
      ? { [K in keyof T]: Encodable<T[K]> }
      : T;

export interface FieldPlan {
  readonly name: string;
  readonly type: number;
  /** Element type code of an array. */
  readonly item: number;
  readonly mode: number;
  /** Compact (flexible) encoding of lengths and counts. */
  readonly compact: boolean;
  readonly nullable: boolean;
  readonly tag: number;
  /** Plan of the struct (or array element struct) at this version. */
  readonly sub: StructPlan | null;
  /** Minimum wire size of one array element, for the count check. */
  readonly itemMinSize: number;
  readonly schema: FieldSchema;
  /** Owner struct name, for error messages. */
  readonly owner: string;
}

export interface StructPlan {
  readonly name: string;
  readonly version: number;
  readonly flexible: boolean;
  /** Every declared field, declaration order (decoded objects get them all, in this order). */
  readonly fields: readonly FieldPlan[];
  /** Fields in the fixed sequence at this version. */
  readonly wire: readonly FieldPlan[];
  /** Tagged fields at this version, by increasing tag. */
  readonly tagged: readonly FieldPlan[];
  readonly byTag: ReadonlyMap<number, FieldPlan>;
  /** Smallest possible encoding of the struct at this version. */
  readonly minSize: number;
  readonly schema: StructSchema;
}

const plans = new WeakMap<StructSchema, Map<number, StructPlan>>();

/** The compiled plan of a struct at a version (cached). */
export function compileStruct(schema: StructSchema, version: number, flexible: boolean): StructPlan {
  let byVersion = plans.get(schema);
  if (!byVersion) {
    byVersion = new Map();
    plans.set(schema, byVersion);
  }
  const key = version * 2 + (flexible ? 1 : 0);
  const cached = byVersion.get(key);
  if (cached) return cached;

  const fields: FieldPlan[] = [];
  for (const fs of schema.fields) {
    const present = inRange(fs.versions, version);
    const tagged = present && flexible && fs.tag !== undefined && inRange(fs.taggedVersions, version);
    const mode = !present ? M_ABSENT : tagged ? M_TAGGED : M_WIRE;
    const type = TYPE_CODES[fs.type];
    const item = fs.items !== undefined ? TYPE_CODES[fs.items] : -1;
    const compact = fs.flexibleVersions !== undefined ? inRange(fs.flexibleVersions, version) : flexible;
    const sub = present && fs.struct ? compileStruct(fs.struct, version, flexible) : null;
    const plan: FieldPlan = {
      name: fs.name,
      type,
      item,
      mode,
      compact,
      nullable: present && inRange(fs.nullableVersions, version),
      tag: fs.tag ?? -1,
      sub,
      itemMinSize: type === T_ARRAY ? minSizeOf(item, compact, false, sub) : 0,
      schema: fs,
      owner: schema.name,
    };
    fields.push(plan);
  }
  const wire = fields.filter((f) => f.mode === M_WIRE);
  const tagged = fields.filter((f) => f.mode === M_TAGGED).sort((a, b) => a.tag - b.tag);
  let minSize = flexible ? 1 : 0;
  for (const f of wire) minSize += minSizeOf(f.type, f.compact, f.nullable, f.sub);
  const plan: StructPlan = {
    name: schema.name,
    version,
    flexible,
    fields,
    wire,
    tagged,
    byTag: new Map(tagged.map((f) => [f.tag, f])),
    minSize,
    schema,
  };
  byVersion.set(key, plan);
  return plan;
}

/** The plan of a message at a version; flexibility comes from the message's flexibleVersions. */
export function compileMessage(schema: MessageSchema, version: number): StructPlan {
  return compileStruct(schema, version, inRange(schema.flexibleVersions, version));
}

function minSizeOf(type: number, compact: boolean, nullable: boolean, sub: StructPlan | null): number {
  switch (type) {
    case T_BOOL:
    case T_INT8:
      return 1;
    case T_INT16:
    case T_UINT16:
      return 2;
    case T_INT32:
    case T_UINT32:
      return 4;
    case T_INT64:
    case T_FLOAT64:
      return 8;
    case T_UUID:
      return 16;
    case T_STRING:
      return compact ? 1 : 2;
    case T_BYTES:
    case T_RECORDS:
    case T_ARRAY:
      return compact ? 1 : 4;
    case T_STRUCT:
      return nullable ? 1 : (sub?.minSize ?? 0);
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults

/** The default of a field as declared (scalars), ignoring version. Struct/array defaults are built fresh. */
function declaredDefault(fs: FieldSchema): unknown {
  if (fs.default !== undefined) return fs.default;
  switch (fs.type) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return EMPTY_BUFFER;
    case 'records':
      return null;
    case 'array':
      return EMPTY_ARRAY;
    case 'struct':
      return EMPTY_OBJECT;
    default:
      return 0;
  }
}

/** A fresh default value for a field (new arrays/objects each time, so callers may mutate them). */
export function defaultFieldValue(fs: FieldSchema): unknown {
  const d = declaredDefault(fs);
  if (d === EMPTY_ARRAY) return [];
  if (d === EMPTY_OBJECT) return defaultStruct(fs.struct!);
  return d;
}

/** An object with every field of the struct at its default. */
export function defaultStruct(schema: StructSchema): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const fs of schema.fields) obj[fs.name] = defaultFieldValue(fs);
  return obj;
}

function byteLength(v: BytesInput): number {
  if (Buffer.isBuffer(v)) return v.length;
  let n = 0;
  for (const c of v) n += c.length;
  return n;
}

/** Whether v equals the field's default (a tagged field is only written when it does not). */
function isDefault(fs: FieldSchema, v: unknown): boolean {
  if (v === undefined) return true;
  const d = declaredDefault(fs);
  switch (fs.type) {
    case 'bytes':
    case 'records':
      if (v === null || d === null) return v === d;
      return byteLength(v as BytesInput) === 0;
    case 'array':
      if (v === null || d === null) return v === d;
      return (v as unknown[]).length === 0;
    case 'struct': {
      if (v === null || d === null) return v === d;
      const obj = v as Record<string, unknown>;
      const unknown = obj._unknownTaggedFields as UnknownTaggedField[] | undefined;
      if (unknown !== undefined && unknown.length > 0) return false;
      for (const sub of fs.struct!.fields) if (!isDefault(sub, obj[sub.name])) return false;
      return true;
    }
    default:
      return v === d;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

function notNullable(f: FieldPlan): DecodeError {
  return new DecodeError('invalid_value', `${f.owner}.${f.name} is null but not nullable at this version`);
}

export function readStruct(r: Reader, plan: StructPlan): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  const fields = plan.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    obj[f.name] = f.mode === M_WIRE ? readField(r, f) : defaultFieldValue(f.schema);
  }
  if (plan.flexible) readTaggedSection(r, plan, obj);
  return obj;
}

function readTaggedSection(r: Reader, plan: StructPlan, obj: Record<string, unknown>): void {
  const n = r.uvarint();
  if (n === 0) return;
  // Each tagged field takes at least two bytes (tag and size).
  if (n * 2 > r.remaining) throw new DecodeError('invalid_length', `${n} tagged fields cannot fit in ${r.remaining} bytes`);
  let unknown: UnknownTaggedField[] | undefined;
  for (let i = 0; i < n; i++) {
    const tag = r.uvarint();
    const size = r.uvarint();
    if (size > r.remaining) throw new DecodeError('truncated', `tagged field ${tag} of ${size} bytes, ${r.remaining} left`);
    const f = plan.byTag.get(tag);
    if (f === undefined) {
      (unknown ??= []).push({ tag, data: r.view(size) });
      r.allocated += 1;
      continue;
    }
    const end = r.pos + size;
    const outerEnd = r.end;
    r.end = end;
    obj[f.name] = readField(r, f);
    if (r.pos !== end) throw new DecodeError('invalid_length', `tagged field ${plan.name}.${f.name} is ${size} bytes but its value took ${size - (end - r.pos)}`);
    r.end = outerEnd;
  }
  if (unknown !== undefined) obj._unknownTaggedFields = unknown;
}

function readField(r: Reader, f: FieldPlan): unknown {
  switch (f.type) {
    case T_INT32:
      return r.int32();
    case T_INT16:
      return r.int16();
    case T_INT64:
      return r.int64();
    case T_STRING: {
      const s = r.string(f.compact);
      if (s === null && !f.nullable) throw notNullable(f);
      return s;
    }
    case T_ARRAY: {
      const n = r.arrayCount(f.compact, f.itemMinSize);
      if (n < 0) {
        if (!f.nullable) throw notNullable(f);
        return null;
      }
      // Elements are pushed as they are decoded (no preallocation from the count) and charged one
      // each; a uuid element is already charged its 16 bytes.
      const out: unknown[] = [];
      const sub = f.sub;
      if (sub !== null) {
        for (let i = 0; i < n; i++) {
          out.push(readStruct(r, sub));
          r.allocated++;
        }
      } else {
        const charge = f.item === T_UUID ? 0 : 1;
        for (let i = 0; i < n; i++) {
          out.push(readItem(r, f));
          r.allocated += charge;
        }
      }
      return out;
    }
    case T_STRUCT:
      if (f.nullable && r.int8() < 0) return null;
      return readStruct(r, f.sub!);
    case T_BYTES:
    case T_RECORDS: {
      const b = r.bytes(f.compact);
      if (b === null && !f.nullable) throw notNullable(f);
      return b;
    }
    default:
      return readFixed(r, f.type);
  }
}

/** One element of an array of primitives (elements are never null). */
function readItem(r: Reader, f: FieldPlan): unknown {
  switch (f.item) {
    case T_STRING: {
      const s = r.string(f.compact);
      if (s === null) throw new DecodeError('invalid_value', `${f.owner}.${f.name} has a null element`);
      return s;
    }
    case T_BYTES:
    case T_RECORDS: {
      const b = r.bytes(f.compact);
      if (b === null) throw new DecodeError('invalid_value', `${f.owner}.${f.name} has a null element`);
      return b;
    }
    default:
      return readFixed(r, f.item);
  }
}

function readFixed(r: Reader, type: number): unknown {
  switch (type) {
    case T_BOOL:
      return r.bool();
    case T_INT8:
      return r.int8();
    case T_INT16:
      return r.int16();
    case T_UINT16:
      return r.uint16();
    case T_INT32:
      return r.int32();
    case T_UINT32:
      return r.uint32();
    case T_INT64:
      return r.int64();
    case T_FLOAT64:
      return r.float64();
    case T_UUID:
      return r.uuid();
    default:
      throw new Error(`unsupported field type code ${type}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeError(f: FieldPlan, what: string): TypeError {
  return new TypeError(`${f.owner}.${f.name}: ${what}`);
}

export function writeStruct(w: Writer, plan: StructPlan, obj: Record<string, unknown> | undefined): void {
  const o = obj ?? EMPTY_OBJECT;
  const wire = plan.wire;
  for (let i = 0; i < wire.length; i++) {
    const f = wire[i];
    writeField(w, f, o[f.name]);
  }
  if (plan.flexible) writeTaggedSection(w, plan, o);
}

interface TaggedOut {
  tag: number;
  f: FieldPlan | null;
  v: unknown;
}

function writeTaggedSection(w: Writer, plan: StructPlan, obj: Record<string, unknown>): void {
  const unknown = obj._unknownTaggedFields as UnknownTaggedField[] | undefined;
  const tagged = plan.tagged;
  if (tagged.length === 0 && (unknown === undefined || unknown.length === 0)) {
    w.uvarint(0);
    return;
  }
  const out: TaggedOut[] = [];
  for (const f of tagged) {
    const v = obj[f.name];
    if (!isDefault(f.schema, v)) out.push({ tag: f.tag, f, v });
  }
  if (unknown !== undefined) {
    for (const u of unknown) if (!plan.byTag.has(u.tag)) out.push({ tag: u.tag, f: null, v: u.data });
    out.sort((a, b) => a.tag - b.tag);
  }
  w.uvarint(out.length);
  for (const t of out) {
    w.uvarint(t.tag);
    if (t.f === null) {
      const data = t.v as Buffer;
      w.uvarint(data.length);
      w.raw(data);
      continue;
    }
    const inner = new Writer(64);
    writeField(inner, t.f, t.v);
    const chunks = inner.finish();
    let size = 0;
    for (const c of chunks) size += c.length;
    w.uvarint(size);
    for (const c of chunks) w.raw(c);
  }
}

function writeField(w: Writer, f: FieldPlan, value: unknown): void {
  let v = value;
  if (v === undefined) v = declaredDefault(f.schema);
  else if (v === null && !f.nullable) throw encodeError(f, 'null is not allowed at this version');
  switch (f.type) {
    case T_INT32:
      w.int32(v as number);
      return;
    case T_INT16:
      w.int16(v as number);
      return;
    case T_INT64:
      w.int64(v as number);
      return;
    case T_STRING:
      writeString(w, f, v as string | null, f.nullable);
      return;
    case T_ARRAY: {
      if (v === null) {
        if (f.compact) w.uvarint(0);
        else w.int32(-1);
        return;
      }
      const arr = v as readonly unknown[];
      const n = arr.length;
      if (f.compact) w.uvarint(n + 1);
      else w.int32(n);
      const sub = f.sub;
      if (sub !== null) {
        for (let i = 0; i < n; i++) writeStruct(w, sub, arr[i] as Record<string, unknown>);
      } else {
        for (let i = 0; i < n; i++) writeItem(w, f, arr[i]);
      }
      return;
    }
    case T_STRUCT:
      if (f.nullable) {
        if (v === null) {
          w.int8(-1);
          return;
        }
        w.int8(1);
      }
      writeStruct(w, f.sub!, v as Record<string, unknown>);
      return;
    case T_BYTES:
    case T_RECORDS:
      writeBytes(w, f, v as BytesInput | null);
      return;
    default:
      writeFixed(w, f, f.type, v);
  }
}

function writeString(w: Writer, f: FieldPlan, s: string | null, nullable: boolean): void {
  if (s === null) {
    if (!nullable) throw encodeError(f, 'null string element');
    if (f.compact) w.uvarint(0);
    else w.int16(-1);
    return;
  }
  if (typeof s !== 'string') throw encodeError(f, `expected a string, got ${typeof s}`);
  const len = utf8Length(s);
  if (len > 0x7fff) throw encodeError(f, `string of ${len} bytes exceeds 32767`);
  if (f.compact) w.uvarint(len + 1);
  else w.int16(len);
  if (len > 0) w.utf8(s, len);
}

function writeBytes(w: Writer, f: FieldPlan, v: BytesInput | null): void {
  if (v === null) {
    if (f.compact) w.uvarint(0);
    else w.int32(-1);
    return;
  }
  if (Buffer.isBuffer(v)) {
    if (f.compact) w.uvarint(v.length + 1);
    else w.int32(v.length);
    w.raw(v);
    return;
  }
  if (!Array.isArray(v)) throw encodeError(f, 'expected a Buffer or Buffer[]');
  const n = byteLength(v);
  if (f.compact) w.uvarint(n + 1);
  else w.int32(n);
  for (const c of v) w.raw(c);
}

function writeItem(w: Writer, f: FieldPlan, v: unknown): void {
  switch (f.item) {
    case T_STRING:
      writeString(w, f, v as string, false);
      return;
    case T_BYTES:
    case T_RECORDS:
      if (v === null || v === undefined) throw encodeError(f, 'null element');
      writeBytes(w, f, v as BytesInput);
      return;
    default:
      writeFixed(w, f, f.item, v);
  }
}

function writeFixed(w: Writer, f: FieldPlan, type: number, v: unknown): void {
  switch (type) {
    case T_BOOL:
      w.bool(v as boolean);
      return;
    case T_INT8:
      w.int8(v as number);
      return;
    case T_INT16:
    case T_UINT16:
      w.int16(v as number);
      return;
    case T_INT32:
    case T_UINT32:
      w.int32(v as number);
      return;
    case T_INT64:
      w.int64(v as number);
      return;
    case T_FLOAT64:
      w.float64(v as number);
      return;
    case T_UUID:
      writeUuid(w, f, v as string);
      return;
    default:
      throw encodeError(f, `unsupported type code ${type}`);
  }
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function writeUuid(w: Writer, f: FieldPlan, s: string): void {
  if (typeof s !== 'string' || s.length !== 36 || s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') {
    throw encodeError(f, `invalid uuid ${String(s)}`);
  }
  w.ensure(16);
  const b = w.buf;
  let p = w.pos;
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      i++;
      continue;
    }
    const hi = hexNibble(s.charCodeAt(i));
    const lo = hexNibble(s.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) throw encodeError(f, `invalid uuid ${s}`);
    b[p++] = (hi << 4) | lo;
    i += 2;
  }
  w.pos = p;
}

// ---------------------------------------------------------------------------------------------
// Whole messages

/** Decodes a message at a version from buf[offset, end); returns the value and where it ended. */
export function decodeMessage<T>(
  schema: MessageSchema,
  version: number,
  buf: Buffer,
  offset = 0,
  end = buf.length,
): { value: T; offset: number; allocated: number } {
  const r = new Reader(buf, offset, end);
  const value = readStruct(r, compileMessage(schema, version)) as T;
  return { value, offset: r.pos, allocated: r.allocated };
}

/** Encodes a message at a version into w. */
export function writeMessage(w: Writer, schema: MessageSchema, version: number, value: unknown): void {
  writeStruct(w, compileMessage(schema, version), value as Record<string, unknown>);
}

/** Encodes a message at a version as chunks (no size prefix). */
export function encodeMessage(schema: MessageSchema, version: number, value: unknown): Buffer[] {
  const w = new Writer();
  writeMessage(w, schema, version, value);
  return w.finish();
}
