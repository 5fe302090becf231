// Emits protocol/generated/messages/*.ts and protocol/generated/index.ts from Kafka's message JSON
// (../shared/kafka-protocol/messages) plus our own definitions in scripts/extra-messages/. Each file
// holds the schemas as data (read by protocol/codec.ts) and the TypeScript interfaces of the decoded
// objects. The output is committed; the build never needs ../shared.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const OPEN = 0x7fff;
type Range = [number, number];

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  tag?: number;
  taggedVersions?: string;
  flexibleVersions?: string;
  default?: string | number | boolean;
  fields?: RawField[];
}

interface RawStruct {
  name: string;
  versions?: string;
  fields: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  deprecatedVersions?: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: RawStruct[];
}

const PRIMITIVES = new Set([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'uuid', 'records',
]);
const NUMERIC = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64']);

/** Removes // comments outside string literals (the reference files only have whole-line ones). */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += c;
  }
  return out;
}

export function parseRange(text: string | undefined): Range | null {
  if (text === undefined || text === 'none') return null;
  let m = /^(\d+)\+$/.exec(text);
  if (m) return [Number(m[1]), OPEN];
  m = /^(\d+)-(\d+)$/.exec(text);
  if (m) return [Number(m[1]), Number(m[2])];
  m = /^(\d+)$/.exec(text);
  if (m) return [Number(m[1]), Number(m[1])];
  throw new Error(`bad version range ${JSON.stringify(text)}`);
}

function intersect(a: Range | null, b: Range | null): Range | null {
  if (!a || !b) return null;
  const lo = Math.max(a[0], b[0]);
  const hi = Math.min(a[1], b[1]);
  return lo <= hi ? [lo, hi] : null;
}

function hull(a: Range | null, b: Range | null): Range | null {
  if (!a) return b;
  if (!b) return a;
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

function covers(outer: Range | null, inner: Range | null): boolean {
  if (!inner) return true;
  return !!outer && outer[0] <= inner[0] && outer[1] >= inner[1];
}

function camel(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function rangeLiteral(r: Range): string {
  return `[${r[0]}, ${r[1]}]`;
}

function loadDir(dir: string): RawMessage[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      try {
        return JSON.parse(stripJsonComments(readFileSync(join(dir, f), 'utf8'))) as RawMessage;
      } catch (e) {
        throw new Error(`${f}: ${(e as Error).message}`);
      }
    });
}

interface StructInfo {
  tsName: string;
  fields: RawField[];
  /** Versions of the message in which this struct appears (hull over its uses). */
  range: Range | null;
}

/** Turns one message JSON into its schema constants and interfaces. */
class MessageRenderer {
  readonly structs = new Map<string, StructInfo>();
  private readonly common: Map<string, RawStruct>;
  readonly msg: RawMessage;

  constructor(msg: RawMessage) {
    this.msg = msg;
    this.common = new Map((msg.commonStructs ?? []).map((s) => [s.name, s]));
    this.walk(msg.fields, parseRange(msg.validVersions));
  }

  structName(jsonName: string): string {
    return jsonName.startsWith(this.msg.name) ? jsonName : this.msg.name + jsonName;
  }

  private walk(fields: RawField[], range: Range | null): void {
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.name)) throw new Error(`${this.msg.name}: duplicate field ${f.name}`);
      seen.add(f.name);
      const t = elementType(f.type);
      if (PRIMITIVES.has(t)) {
        if (f.fields) throw new Error(`${this.msg.name}.${f.name}: primitive with fields`);
        continue;
      }
      const fieldRange = intersect(range, parseRange(f.versions));
      let info = this.structs.get(t);
      if (!info) {
        const body = f.fields ?? this.common.get(t)?.fields;
        if (!body) throw new Error(`${this.msg.name}.${f.name}: unknown struct ${t}`);
        info = { tsName: this.structName(t), fields: body, range: null };
        for (const other of this.structs.values()) {
          if (other.tsName === info.tsName) throw new Error(`${this.msg.name}: struct name clash ${info.tsName}`);
        }
        this.structs.set(t, info);
      } else if (f.fields && f.fields !== info.fields) {
        throw new Error(`${this.msg.name}: struct ${t} defined twice`);
      }
      info.range = hull(info.range, fieldRange);
      this.walk(info.fields, fieldRange);
    }
  }

  schemaConst(jsonStruct: string): string {
    return `${this.structs.get(jsonStruct)!.tsName}Schema`;
  }

  /** Struct schema constants in dependency order (children first). */
  renderStructConsts(): string[] {
    const out: string[] = [];
    const done = new Set<string>();
    const visit = (fields: RawField[]) => {
      for (const f of fields) {
        const t = elementType(f.type);
        if (PRIMITIVES.has(t) || done.has(t)) continue;
        done.add(t);
        const info = this.structs.get(t)!;
        visit(info.fields);
        out.push(`const ${info.tsName}Schema: StructSchema = {`);
        out.push(`  name: '${info.tsName}',`);
        out.push('  fields: [');
        for (const sf of info.fields) out.push(`    ${this.renderField(sf)},`);
        out.push('  ],');
        out.push('};');
        out.push('');
      }
    };
    visit(this.msg.fields);
    return out;
  }

  renderField(f: RawField): string {
    const parts: string[] = [`name: '${camel(f.name)}'`];
    const isArray = f.type.startsWith('[]');
    const t = elementType(f.type);
    const prim = PRIMITIVES.has(t);
    if (isArray) {
      parts.push(`type: 'array'`, `items: '${prim ? t : 'struct'}'`);
      if (!prim) parts.push(`struct: ${this.schemaConst(t)}`);
    } else if (prim) parts.push(`type: '${t}'`);
    else parts.push(`type: 'struct'`, `struct: ${this.schemaConst(t)}`);
    const versions = parseRange(f.versions);
    if (!versions) throw new Error(`${this.msg.name}.${f.name}: no versions`);
    parts.push(`versions: ${rangeLiteral(versions)}`);
    const nullable = parseRange(f.nullableVersions);
    if (nullable) {
      if (!isArray && prim && !['string', 'bytes', 'records'].includes(t)) {
        throw new Error(`${this.msg.name}.${f.name}: nullable ${t}`);
      }
      parts.push(`nullableVersions: ${rangeLiteral(nullable)}`);
    }
    if (f.tag !== undefined) {
      const tagged = parseRange(f.taggedVersions);
      if (!tagged) throw new Error(`${this.msg.name}.${f.name}: tag without taggedVersions`);
      parts.push(`tag: ${f.tag}`, `taggedVersions: ${rangeLiteral(tagged)}`);
    } else if (f.taggedVersions) throw new Error(`${this.msg.name}.${f.name}: taggedVersions without tag`);
    if (f.flexibleVersions !== undefined) {
      const flex = parseRange(f.flexibleVersions);
      parts.push(`flexibleVersions: ${flex ? rangeLiteral(flex) : 'null'}`);
    }
    if (f.default !== undefined) parts.push(`default: ${renderDefault(this.msg.name, f, nullable !== null)}`);
    return `{ ${parts.join(', ')} }`;
  }

  tsType(f: RawField, structRange: Range | null): { type: string; optional: boolean } {
    const versions = parseRange(f.versions);
    const present = intersect(versions, structRange);
    const nullable = intersect(parseRange(f.nullableVersions), present) !== null;
    const isArray = f.type.startsWith('[]');
    const t = elementType(f.type);
    const base = PRIMITIVES.has(t) ? primitiveTs(t) : this.structs.get(t)!.tsName;
    let type = isArray ? (base.includes(' ') ? `Array<${base}>` : `${base}[]`) : base;
    if (t === 'records' && !isArray) type = 'Buffer | null';
    else if (nullable) type += ' | null';
    const optional = f.tag !== undefined || !covers(versions, structRange);
    return { type, optional };
  }

  renderInterface(tsName: string, fields: RawField[], range: Range | null, flexible: boolean): string[] {
    const out = [`export interface ${tsName} {`];
    for (const f of fields) {
      const { type, optional } = this.tsType(f, range);
      out.push(`  ${camel(f.name)}${optional ? '?' : ''}: ${type};`);
    }
    if (flexible) out.push('  _unknownTaggedFields?: UnknownTaggedField[];');
    out.push('}');
    return out;
  }

  /** Interfaces of the message and its nested structs, top level first. */
  renderInterfaces(): string[] {
    const flexible = parseRange(this.msg.flexibleVersions) !== null;
    const out = this.renderInterface(this.msg.name, this.msg.fields, parseRange(this.msg.validVersions), flexible);
    for (const info of this.structs.values()) {
      out.push('');
      out.push(...this.renderInterface(info.tsName, info.fields, info.range, flexible));
    }
    return out;
  }

  renderMessageConst(): string[] {
    const m = this.msg;
    const valid = parseRange(m.validVersions)!;
    const flex = parseRange(m.flexibleVersions);
    const out = [`export const ${m.name}Schema: MessageSchema = {`];
    out.push(`  name: '${m.name}',`);
    out.push(`  kind: '${m.type}',`);
    if (m.apiKey !== undefined) out.push(`  apiKey: ${m.apiKey},`);
    out.push(`  validVersions: ${rangeLiteral(valid)},`);
    out.push(`  flexibleVersions: ${flex ? rangeLiteral(flex) : 'null'},`);
    out.push('  fields: [');
    for (const f of m.fields) out.push(`    ${this.renderField(f)},`);
    out.push('  ],');
    out.push('};');
    return out;
  }
}

function elementType(type: string): string {
  return type.startsWith('[]') ? type.slice(2) : type;
}

function primitiveTs(t: string): string {
  if (NUMERIC.has(t)) return 'number';
  if (t === 'bool') return 'boolean';
  if (t === 'string' || t === 'uuid') return 'string';
  return 'Buffer';
}

function renderDefault(msg: string, f: RawField, nullable: boolean): string {
  const d = f.default!;
  const where = `${msg}.${f.name}`;
  if (d === 'null') {
    if (!nullable) throw new Error(`${where}: null default on a non-nullable field`);
    return 'null';
  }
  if (f.type.startsWith('[]') || !PRIMITIVES.has(f.type)) throw new Error(`${where}: unsupported default ${d}`);
  if (NUMERIC.has(f.type)) {
    const n = typeof d === 'number' ? d : Number(d);
    if (!Number.isFinite(n)) throw new Error(`${where}: bad numeric default ${d}`);
    return String(n);
  }
  if (f.type === 'bool') {
    if (d === true || d === 'true') return 'true';
    if (d === false || d === 'false') return 'false';
    throw new Error(`${where}: bad bool default ${d}`);
  }
  if (f.type === 'string') return `'${String(d).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  throw new Error(`${where}: unsupported default ${d} for ${f.type}`);
}

const HEADER_COMMENT = (sources: string[]) =>
  `// Generated by scripts/generate-messages.ts from ${sources.join(', ')}. Do not edit.`;

interface ApiPair {
  apiName: string;
  key: number;
  request: RawMessage;
  response: RawMessage;
  file: string;
}

/** Every generated message file: path relative to the project root → contents. */
export function renderMessages(messagesDir: string, extraDir: string): Map<string, string> {
  const all = [...loadDir(messagesDir), ...loadDir(extraDir)];
  const byName = new Map<string, RawMessage>();
  for (const m of all) {
    if (byName.has(m.name)) throw new Error(`message ${m.name} defined twice`);
    byName.set(m.name, m);
  }
  const files = new Map<string, string>();
  const pairs: ApiPair[] = [];
  const singles: Array<{ msg: RawMessage; file: string }> = [];
  for (const m of all) {
    if (m.type === 'request') {
      const apiName = m.name.replace(/Request$/, '');
      const response = byName.get(`${apiName}Response`);
      if (!response) throw new Error(`${m.name}: no response`);
      if (response.apiKey !== m.apiKey) throw new Error(`${apiName}: api keys differ`);
      if (response.validVersions !== m.validVersions) throw new Error(`${apiName}: validVersions differ`);
      if (response.flexibleVersions !== m.flexibleVersions) throw new Error(`${apiName}: flexibleVersions differ`);
      pairs.push({ apiName, key: m.apiKey!, request: m, response, file: kebab(apiName) });
    } else if (m.type === 'header' || m.type === 'data') singles.push({ msg: m, file: kebab(m.name) });
    else if (m.type !== 'response') throw new Error(`${m.name}: unknown type ${String(m.type)}`);
  }
  pairs.sort((a, b) => a.key - b.key);
  singles.sort((a, b) => a.file.localeCompare(b.file));

  const renderFile = (msgs: RawMessage[]): string => {
    const out = [HEADER_COMMENT(msgs.map((m) => `${m.name}.json`)), ''];
    const flexible = msgs.some((m) => parseRange(m.flexibleVersions) !== null);
    out.push(
      `import type { MessageSchema, StructSchema${flexible ? ', UnknownTaggedField' : ''} } from '../../schema.js';`,
    );
    for (const m of msgs) {
      const r = new MessageRenderer(m);
      out.push('');
      out.push(...r.renderStructConsts());
      out.push(...r.renderMessageConst());
      out.push('');
      out.push(...r.renderInterfaces());
    }
    // A file without nested structs does not use StructSchema.
    let text = out.join('\n').replace(/\n{3,}/g, '\n\n') + '\n';
    if (!/: StructSchema = /.test(text)) text = text.replace('MessageSchema, StructSchema', 'MessageSchema');
    return text;
  };

  for (const p of pairs) files.set(`protocol/generated/messages/${p.file}.ts`, renderFile([p.request, p.response]));
  for (const s of singles) files.set(`protocol/generated/messages/${s.file}.ts`, renderFile([s.msg]));

  // index.ts: the ApiKey map, per-key metadata and the request/response type maps.
  const idx = [HEADER_COMMENT(['the message JSON files']), ''];
  idx.push(`import type { MessageSchema, VersionRange } from '../schema.js';`);
  for (const p of pairs) {
    idx.push(
      `import { ${p.request.name}Schema, ${p.response.name}Schema, type ${p.request.name}, type ${p.response.name} } from './messages/${p.file}.js';`,
    );
  }
  for (const s of singles) {
    idx.push(`import { ${s.msg.name}Schema, type ${s.msg.name} } from './messages/${s.file}.js';`);
  }
  idx.push('');
  for (const p of pairs) idx.push(`export * from './messages/${p.file}.js';`);
  for (const s of singles) idx.push(`export * from './messages/${s.file}.js';`);
  idx.push('');
  idx.push('export const ApiKey = {');
  for (const p of pairs) idx.push(`  ${p.apiName}: ${p.key},`);
  idx.push('} as const;');
  idx.push('');
  idx.push('export type ApiKeyName = keyof typeof ApiKey;');
  idx.push('export type ApiKeyValue = (typeof ApiKey)[ApiKeyName];');
  idx.push('');
  idx.push('export interface ApiInfo {');
  idx.push('  readonly name: ApiKeyName;');
  idx.push('  readonly apiKey: ApiKeyValue;');
  idx.push('  readonly requestSchema: MessageSchema;');
  idx.push('  readonly responseSchema: MessageSchema;');
  idx.push('  readonly validVersions: VersionRange;');
  idx.push('  /** First flexible version; null when no version is flexible. */');
  idx.push('  readonly flexibleFrom: number | null;');
  idx.push('  /** Versions Kafka marks deprecated (KIP-896); null when none. */');
  idx.push('  readonly deprecatedVersions: VersionRange | null;');
  idx.push('  /** The highest valid version is not final (real brokers do not advertise it). */');
  idx.push('  readonly latestVersionUnstable: boolean;');
  idx.push('}');
  idx.push('');
  idx.push('export const API_INFO: { readonly [K in ApiKeyValue]: ApiInfo } = {');
  for (const p of pairs) {
    const valid = parseRange(p.request.validVersions)!;
    const flex = parseRange(p.request.flexibleVersions);
    const dep = parseRange(p.request.deprecatedVersions);
    idx.push(`  ${p.key}: {`);
    idx.push(`    name: '${p.apiName}',`);
    idx.push(`    apiKey: ${p.key},`);
    idx.push(`    requestSchema: ${p.request.name}Schema,`);
    idx.push(`    responseSchema: ${p.response.name}Schema,`);
    idx.push(`    validVersions: ${rangeLiteral(valid)},`);
    idx.push(`    flexibleFrom: ${flex ? flex[0] : 'null'},`);
    idx.push(`    deprecatedVersions: ${dep ? rangeLiteral(dep) : 'null'},`);
    idx.push(`    latestVersionUnstable: ${p.request.latestVersionUnstable === true},`);
    idx.push('  },');
  }
  idx.push('};');
  idx.push('');
  idx.push('export interface ApiRequestMap {');
  for (const p of pairs) idx.push(`  ${p.key}: ${p.request.name};`);
  idx.push('}');
  idx.push('');
  idx.push('export interface ApiResponseMap {');
  for (const p of pairs) idx.push(`  ${p.key}: ${p.response.name};`);
  idx.push('}');
  idx.push('');
  idx.push('export type ApiRequest<K extends ApiKeyValue> = ApiRequestMap[K];');
  idx.push('export type ApiResponse<K extends ApiKeyValue> = ApiResponseMap[K];');
  idx.push('');
  idx.push('/** Schemas that are not an API: headers and the consumer protocol data. */');
  idx.push('export const OTHER_SCHEMAS = {');
  for (const s of singles) idx.push(`  ${s.msg.name}: ${s.msg.name}Schema,`);
  idx.push('} as const;');
  idx.push('');
  idx.push('export interface OtherSchemaTypes {');
  for (const s of singles) idx.push(`  ${s.msg.name}: ${s.msg.name};`);
  idx.push('}');
  idx.push('');
  files.set('protocol/generated/index.ts', idx.join('\n'));
  return files;
}
