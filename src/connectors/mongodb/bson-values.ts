/**
 * BSON values as the driver returns them (with `promoteValues: false`: Int32, Double and Long stay
 * wrapped, so a Double 3.0 is not mistaken for an integer) turned into staging text for DuckDB, and the
 * per-column record of the kinds seen that decides the column's DuckDB type once every document has
 * been read. Values are recognised by their `_bsontype`, so documents built with any copy of the bson
 * library work, as do promoted JavaScript numbers, bigints, Dates and Buffers.
 */
export type BsonKind =
  | 'string'
  | 'boolean'
  | 'int32'
  | 'int64'
  | 'double'
  | 'decimal'
  | 'date'
  | 'objectId'
  | 'binary'
  | 'uuid'
  | 'nested'
  | 'text';

interface Tagged {
  _bsontype?: string;
  sub_type?: number;
  value?: unknown;
  toString(encoding?: string): string;
  toHexString?(): string;
  buffer?: Uint8Array;
  t?: number;
  pattern?: string;
  options?: string;
  code?: string;
  collection?: string;
  oid?: unknown;
  db?: string;
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** A document (not an array, a BSON value or a Date) whose fields `flatten` spreads into columns. */
export function isPlainDocument(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array) &&
    (value as Tagged)._bsontype === undefined
  );
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return String(value);
}

function binaryBytes(value: Tagged): Uint8Array {
  return value.buffer instanceof Uint8Array ? value.buffer : new Uint8Array();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** A non-null value's kind and staging text; undefined for null and undefined. */
export function stageValue(value: unknown): { kind: BsonKind; text: string } | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'string':
      return { kind: 'string', text: value };
    case 'boolean':
      return { kind: 'boolean', text: value ? 'true' : 'false' };
    case 'number':
      if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX)
        return { kind: 'int32', text: String(value) };
      return Number.isSafeInteger(value)
        ? { kind: 'int64', text: String(value) }
        : { kind: 'double', text: numberText(value) };
    case 'bigint':
      return { kind: 'int64', text: value.toString() };
    default:
      break;
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? undefined : { kind: 'date', text: value.toISOString() };
  }
  if (value instanceof Uint8Array) return { kind: 'binary', text: hex(value) };
  if (Array.isArray(value) || isPlainDocument(value)) return { kind: 'nested', text: jsonText(value) };
  const tagged = value as Tagged;
  switch (tagged._bsontype) {
    case 'ObjectId':
    case 'ObjectID':
      return { kind: 'objectId', text: tagged.toHexString?.() ?? tagged.toString('hex') };
    case 'Int32':
      return { kind: 'int32', text: String(tagged.value) };
    case 'Double':
      return { kind: 'double', text: numberText(tagged.value as number) };
    case 'Long':
      return { kind: 'int64', text: tagged.toString() };
    case 'Decimal128':
      return { kind: 'decimal', text: tagged.toString() };
    case 'Binary': {
      const bytes = binaryBytes(tagged);
      return { kind: tagged.sub_type === 4 && bytes.length === 16 ? 'uuid' : 'binary', text: hex(bytes) };
    }
    case 'Timestamp':
      return { kind: 'date', text: new Date((tagged.t ?? 0) * 1000).toISOString() };
    case 'DBRef':
      return { kind: 'nested', text: jsonText(value) };
    default:
      return { kind: 'text', text: otherText(tagged) };
  }
}

/** RegExp, Code, Symbol, MinKey, MaxKey as readable text. */
function otherText(value: Tagged): string {
  switch (value._bsontype) {
    case 'BSONRegExp':
      return `/${value.pattern ?? ''}/${value.options ?? ''}`;
    case 'Code':
      return value.code ?? '';
    case 'MinKey':
    case 'MaxKey':
      return value._bsontype;
    default:
      return value instanceof RegExp ? String(value) : String(value.value ?? value.toString());
  }
}

/**
 * JSON text of a nested value: ObjectId as hex text, Date as ISO text, Decimal128 as text (exact),
 * Int64 as a number with all its digits, Binary as base64 text (a UUID as its usual text), NaN and
 * infinities as text.
 */
export function jsonText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map((item) => jsonText(item)).join(',')}]`;
  if (isPlainDocument(value)) {
    const fields: string[] = [];
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) fields.push(`${JSON.stringify(key)}:${jsonText(item)}`);
    }
    return `{${fields.join(',')}}`;
  }
  const tagged = value as Tagged;
  if (tagged._bsontype === 'DBRef') {
    return `{"$ref":${JSON.stringify(tagged.collection ?? '')},"$id":${jsonText(tagged.oid)}${tagged.db === undefined ? '' : `,"$db":${JSON.stringify(tagged.db)}`}}`;
  }
  if (tagged._bsontype === 'Binary' || value instanceof Uint8Array) {
    const bytes = value instanceof Uint8Array ? value : binaryBytes(tagged);
    if (tagged.sub_type === 4 && bytes.length === 16) {
      const h = hex(bytes);
      return JSON.stringify(
        `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
      );
    }
    return JSON.stringify(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'));
  }
  const staged = stageValue(value);
  if (staged === undefined) return 'null';
  switch (staged.kind) {
    case 'boolean':
    case 'int32':
    case 'int64':
      return staged.text;
    case 'double':
      return Number.isFinite(Number(staged.text)) ? staged.text : JSON.stringify(staged.text);
    default:
      return JSON.stringify(staged.text);
  }
}

const TEXTUAL: ReadonlySet<BsonKind> = new Set(['string', 'objectId', 'text']);
const NUMERIC: ReadonlySet<BsonKind> = new Set(['int32', 'int64', 'double', 'decimal']);

/** One column of the dataset: a field (or dotted path, with flatten) and what was seen in it. */
export class FieldColumn {
  readonly kinds = new Set<BsonKind>();
  private integerDigits = 1;
  private scale = 0;
  private specialDecimal = false;

  constructor(
    readonly name: string,
    readonly index: number,
  ) {}

  /** Records a value and returns its staging text (undefined for null). */
  stage(value: unknown): string | undefined {
    const staged = stageValue(value);
    if (staged === undefined) return undefined;
    this.kinds.add(staged.kind);
    if (staged.kind === 'decimal' || staged.kind === 'int32' || staged.kind === 'int64')
      this.digits(staged.text);
    return staged.text;
  }

  private digits(text: string): void {
    const match = /^[+-]?(\d*)(?:\.(\d*))?$/.exec(text);
    if (match === null) {
      this.specialDecimal = true;
      return;
    }
    this.integerDigits = Math.max(this.integerDigits, (match[1] ?? '').replace(/^0+/, '').length || 1);
    this.scale = Math.max(this.scale, (match[2] ?? '').length);
  }

  /** The DuckDB type once every document was seen, and a remark for the log when values were adapted. */
  target(): { type: string; note?: string } {
    const kinds = [...this.kinds];
    const all = (set: ReadonlySet<BsonKind>): boolean => kinds.every((kind) => set.has(kind));
    const only = (...allowed: BsonKind[]): boolean => kinds.every((kind) => allowed.includes(kind));
    if (kinds.length === 0 || all(TEXTUAL)) return { type: 'VARCHAR' };
    if (only('boolean')) return { type: 'BOOLEAN' };
    if (only('int32')) return { type: 'INTEGER' };
    if (only('int32', 'int64')) return { type: 'BIGINT' };
    if (only('int32', 'int64', 'double')) return { type: 'DOUBLE' };
    if (all(NUMERIC) && !this.kinds.has('double')) return this.decimalTarget();
    if (all(NUMERIC)) {
      return {
        type: 'DOUBLE',
        note: `field '${this.name}' mixes Decimal128 and Double values and was read as DOUBLE`,
      };
    }
    if (only('date')) return { type: 'TIMESTAMPTZ' };
    if (only('uuid')) return { type: 'UUID' };
    if (only('binary', 'uuid')) return { type: 'BLOB' };
    if (only('nested')) return { type: 'JSON' };
    return {
      type: 'VARCHAR',
      note: `field '${this.name}' holds values of different types (${kinds.sort().join(', ')}) and was kept as VARCHAR`,
    };
  }

  private decimalTarget(): { type: string; note?: string } {
    if (this.specialDecimal) {
      return {
        type: 'VARCHAR',
        note: `field '${this.name}' holds Decimal128 values such as NaN or exponents and was kept as VARCHAR`,
      };
    }
    const precision = this.integerDigits + this.scale;
    if (precision > 38) {
      return {
        type: 'VARCHAR',
        note: `field '${this.name}' needs ${precision} digits, more than DuckDB's DECIMAL holds (38), and was kept as VARCHAR`,
      };
    }
    return { type: `DECIMAL(${Math.max(precision, 1)},${this.scale})` };
  }
}
