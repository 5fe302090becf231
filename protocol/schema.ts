// The shape of the generated message schemas (protocol/generated/messages/*.ts). A schema is plain
// data describing the fields of a message across all of its versions; protocol/codec.ts interprets
// it. Version ranges are inclusive [min, max] pairs; an open-ended range ("3+") has max = OPEN.

/** Upper bound of an open-ended version range. */
export const OPEN = 0x7fff;

export type VersionRange = readonly [min: number, max: number];

export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'bytes'
  | 'uuid'
  | 'records';

/** A default as written in the schema; null only for nullable fields. */
export type DefaultValue = number | boolean | string | null;

export interface FieldSchema {
  /** camelCase property name on the decoded object. */
  readonly name: string;
  readonly type: PrimitiveType | 'struct' | 'array';
  /** Element type of an array. */
  readonly items?: PrimitiveType | 'struct';
  /** The struct of a struct field or of an array of structs. */
  readonly struct?: StructSchema;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  readonly tag?: number;
  readonly taggedVersions?: VersionRange;
  /** Overrides the message's flexible range for this field only; null = never flexible. */
  readonly flexibleVersions?: VersionRange | null;
  /** Only present when the reference schema names one; otherwise the type's zero value applies. */
  readonly default?: DefaultValue;
}

export interface StructSchema {
  /** TypeScript interface name of the decoded object. */
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

export interface MessageSchema extends StructSchema {
  readonly kind: 'request' | 'response' | 'header' | 'data';
  readonly apiKey?: number;
  readonly validVersions: VersionRange;
  /** null = no flexible version. */
  readonly flexibleVersions: VersionRange | null;
}

/** A tagged field the schema does not know at the decoded version, kept so re-encoding emits it. */
export interface UnknownTaggedField {
  tag: number;
  data: Buffer;
}

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range != null && version >= range[0] && version <= range[1];
}
