/**
 * Incremental reads for `mongodb.find` and `mongodb.aggregate` (`incremental: { cursor }`): a
 * high-water mark per pipeline and step in the state store, the largest cursor value of the last
 * successful run. A read asks only for documents above it — find: the user's filter and
 * `{ <cursor>: { $gt: mark } }` joined by `$and`, so the user's own conditions on that field stay as
 * written; aggregate: a `$match` stage in front of the pipeline. While the documents stream into the
 * dataset the largest cursor value is kept; it is proposed as the next mark, which the engine commits
 * only when the run succeeds, so a failed run reads the same documents again.
 *
 * The mark is stored as canonical Extended JSON and read back with the driver's EJSON, so it keeps its
 * BSON type: a Date mark compares as a Date on the server, a Long keeps all its digits, a Decimal128
 * its exact value. Values are compared as MongoDB orders them within a type: numbers (int, long,
 * double, decimal) by exact value across their types, strings by code point (the order of their UTF-8
 * bytes, the server's simple collation), dates, ObjectIds and timestamps in their own order. Two other
 * types in the field make a typed error; documents without the field (or null there) are counted and
 * left out of the mark.
 */
import type { Document } from 'mongodb';
import { PwError } from '../../core/errors/pw-error.js';
import type { StepContext } from '../../core/step.js';
import { stageValue } from './bson-values.js';

export interface MongoIncrementalConfig {
  cursor: string;
  /** Lower bound (exclusive) of the first run, as Extended JSON (`{ $date: … }`, a number, a string). */
  initial?: unknown;
}

/** The mark as kept in the state store. */
export interface StoredMongoMark {
  cursor: string;
  /** The value as canonical Extended JSON text, e.g. `{"$date":{"$numberLong":"1732341600000"}}`. */
  value: string;
}

/** The comparison classes of cursor values: values of two classes cannot make one mark. */
type CursorClass = 'number' | 'string' | 'date' | 'objectId' | 'timestamp';

interface Tagged {
  _bsontype?: string;
  value?: unknown;
  t?: number;
  i?: number;
  toString(): string;
  toHexString?(): string;
}

/**
 * The MongoDB type name of a value (the `$type` aliases: int, long, double, decimal, string, date,
 * objectId, timestamp, bool, object, array, binData, …) and its comparison class when it can be a cursor.
 */
export function cursorType(value: unknown): { type: string; cursorClass: CursorClass | undefined } {
  switch (typeof value) {
    case 'string':
      return { type: 'string', cursorClass: 'string' };
    case 'number':
      return { type: Number.isInteger(value) ? 'int' : 'double', cursorClass: 'number' };
    case 'bigint':
      return { type: 'long', cursorClass: 'number' };
    case 'boolean':
      return { type: 'bool', cursorClass: undefined };
    default:
      break;
  }
  if (value instanceof Date) return { type: 'date', cursorClass: 'date' };
  if (Array.isArray(value)) return { type: 'array', cursorClass: undefined };
  if (value instanceof Uint8Array) return { type: 'binData', cursorClass: undefined };
  switch ((value as Tagged | null)?._bsontype) {
    case 'Int32':
      return { type: 'int', cursorClass: 'number' };
    case 'Long':
      return { type: 'long', cursorClass: 'number' };
    case 'Double':
      return { type: 'double', cursorClass: 'number' };
    case 'Decimal128':
      return { type: 'decimal', cursorClass: 'number' };
    case 'ObjectId':
    case 'ObjectID':
      return { type: 'objectId', cursorClass: 'objectId' };
    case 'Timestamp':
      return { type: 'timestamp', cursorClass: 'timestamp' };
    case 'Binary':
      return { type: 'binData', cursorClass: undefined };
    case 'BSONRegExp':
      return { type: 'regex', cursorClass: undefined };
    case undefined:
      return { type: 'object', cursorClass: undefined };
    default:
      return { type: String((value as Tagged)._bsontype), cursorClass: undefined };
  }
}

// ---------------------------------------------------------------------------------------------------
// Comparing values of one class

/** A number exactly: NaN, ±infinity, or coefficient × 10^exponent. */
type Exact =
  | { kind: 'nan' }
  | { kind: 'infinity'; sign: 1 | -1 }
  | { kind: 'finite'; coefficient: bigint; exponent: number };

function exactOfDouble(value: number): Exact {
  if (Number.isNaN(value)) return { kind: 'nan' };
  if (!Number.isFinite(value)) return { kind: 'infinity', sign: value > 0 ? 1 : -1 };
  if (Number.isInteger(value)) return { kind: 'finite', coefficient: BigInt(value), exponent: 0 };
  // m × 2^-k with m an integer (doubling is exact) is m × 5^k × 10^-k.
  let mantissa = value;
  let k = 0;
  while (!Number.isInteger(mantissa)) {
    mantissa *= 2;
    k += 1;
  }
  return { kind: 'finite', coefficient: BigInt(mantissa) * 5n ** BigInt(k), exponent: -k };
}

function exactOfDecimal(text: string): Exact {
  if (/^[+-]?nan$/i.test(text)) return { kind: 'nan' };
  if (/^[+-]?inf(inity)?$/i.test(text)) return { kind: 'infinity', sign: text.startsWith('-') ? -1 : 1 };
  const match = /^([+-]?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (match === null) return { kind: 'nan' };
  const fraction = match[3] ?? '';
  return {
    kind: 'finite',
    coefficient: BigInt(`${match[1] ?? ''}${match[2] ?? '0'}${fraction}`),
    exponent: Number(match[4] ?? 0) - fraction.length,
  };
}

/** A JS number (Int32, Double, number), a bigint (Long, bigint) or an exact decimal (Decimal128). */
function numericOf(value: unknown): number | bigint | Exact {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  const tagged = value as Tagged;
  switch (tagged._bsontype) {
    case 'Int32':
    case 'Double':
      return tagged.value as number;
    case 'Long':
      return BigInt(tagged.toString());
    default:
      return exactOfDecimal(tagged.toString());
  }
}

function toExact(value: number | bigint | Exact): Exact {
  if (typeof value === 'number') return exactOfDouble(value);
  if (typeof value === 'bigint') return { kind: 'finite', coefficient: value, exponent: 0 };
  return value;
}

function sign(value: number | bigint): -1 | 0 | 1 {
  return value < 0 ? -1 : value > 0 ? 1 : 0;
}

/** MongoDB's order of numbers: NaN below every number, then by value whatever the type. */
function compareExact(a: Exact, b: Exact): number {
  if (a.kind === 'nan' || b.kind === 'nan') return (a.kind === 'nan' ? 0 : 1) - (b.kind === 'nan' ? 0 : 1);
  if (a.kind === 'infinity' || b.kind === 'infinity') {
    const rank = (x: Exact): number => (x.kind === 'infinity' ? x.sign * 2 : 0);
    if (a.kind === 'infinity' && b.kind === 'infinity') return rank(a) - rank(b);
    return a.kind === 'infinity' ? a.sign : -(b as { sign: 1 | -1 }).sign;
  }
  const shift = a.exponent - b.exponent;
  const left = shift > 0 ? a.coefficient * 10n ** BigInt(shift) : a.coefficient;
  const right = shift < 0 ? b.coefficient * 10n ** BigInt(-shift) : b.coefficient;
  return sign(left - right);
}

function compareNumbers(a: unknown, b: unknown): number {
  const x = numericOf(a);
  const y = numericOf(b);
  // The common cases need no big numbers: two doubles, or two longs.
  if (typeof x === 'number' && typeof y === 'number' && !Number.isNaN(x) && !Number.isNaN(y))
    return sign(x - y);
  if (typeof x === 'bigint' && typeof y === 'bigint') return sign(x - y);
  return compareExact(toExact(x), toExact(y));
}

/** Code point order, which is the order of the UTF-8 bytes (the server's simple collation). */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index += 1) {
    let x = a.charCodeAt(index);
    let y = b.charCodeAt(index);
    if (x === y) continue;
    // UTF-16 puts surrogates (code points above U+FFFF) before U+E000–U+FFFF: move them after.
    if (x >= 0xd800 && y >= 0xd800) {
      x += x <= 0xdfff ? 0x2000 : -0x800;
      y += y <= 0xdfff ? 0x2000 : -0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Compares two values of the same class as MongoDB orders them. */
export function compareCursorValues(a: unknown, b: unknown, cursorClass: CursorClass): number {
  switch (cursorClass) {
    case 'number':
      return compareNumbers(a, b);
    case 'string':
      return compareCodePoints(a as string, b as string);
    case 'date':
      return sign((a as Date).getTime() - (b as Date).getTime());
    case 'objectId': {
      const x = (a as Tagged).toHexString?.() ?? '';
      const y = (b as Tagged).toHexString?.() ?? '';
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'timestamp': {
      const x = a as Tagged;
      const y = b as Tagged;
      return sign((x.t ?? 0) - (y.t ?? 0)) || sign((x.i ?? 0) - (y.i ?? 0));
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Filters

/** The field at a dotted path of a document (`meta.updated_at`), through nested documents only. */
export function fieldAt(document: Document, path: string): unknown {
  let value: unknown = document;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if ((value as Tagged)._bsontype !== undefined || value instanceof Date) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The find filter for a read above `mark` (the user's filter unchanged when there is no mark). */
export function filterAbove(filter: Document, cursor: string, mark: unknown): Document {
  if (mark === undefined) return filter;
  const above = { [cursor]: { $gt: mark } };
  return Object.keys(filter).length === 0 ? above : { $and: [filter, above] };
}

/** The aggregation pipeline for a read above `mark`: a `$match` in front (unchanged without a mark). */
export function pipelineAbove(pipeline: readonly Document[], cursor: string, mark: unknown): Document[] {
  if (mark === undefined) return [...pipeline];
  return [{ $match: { [cursor]: { $gt: mark } } }, ...pipeline];
}

/** Stages the server accepts only first in a pipeline, so no `$match` can go before them. */
const FIRST_STAGES = new Set([
  '$changeStream',
  '$collStats',
  '$currentOp',
  '$documents',
  '$geoNear',
  '$indexStats',
  '$listLocalSessions',
  '$listSearchIndexes',
  '$listSessions',
  '$planCacheStats',
  '$search',
  '$searchMeta',
  '$vectorSearch',
]);

/** Refuses a pipeline whose first stage must stay first, before connecting. */
export function checkPipelineForIncremental(pipeline: readonly Document[], label: string): void {
  const first = Object.keys(pipeline[0] ?? {})[0];
  if (first !== undefined && FIRST_STAGES.has(first)) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${label}: incremental reads put a $match stage in front of the pipeline, but ${first} must be its first stage`,
      {
        path: 'with.incremental',
        hint: `Leave incremental out for this pipeline and filter on the cursor yourself after ${first}, or read the collection with mongodb.find.`,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// The largest value seen

/** Keeps the largest cursor value of the documents that pass through `observe`. */
export class MarkTracker {
  /** Documents without the field, or with null there. */
  missing = 0;
  private largest: unknown;
  private largestType = '';
  private cursorClass: CursorClass | undefined;

  constructor(
    readonly cursor: string,
    private readonly label: string,
  ) {}

  observe(document: Document): void {
    const value = fieldAt(document, this.cursor);
    if (value === undefined || value === null) {
      this.missing += 1;
      return;
    }
    const { type, cursorClass } = cursorType(value);
    if (cursorClass === undefined) {
      throw new PwError(
        'PW_DB_TYPE',
        `${this.label}: the incremental cursor '${this.cursor}' holds a value of type ${type}, which has no order to keep a mark by`,
        {
          path: 'with.incremental.cursor',
          found: type,
          expected: 'a date, a number (int, long, double, decimal), a string, an ObjectId or a timestamp',
          hint: 'Use a field that grows with every change, such as updated_at or an ObjectId _id.',
        },
      );
    }
    if (this.cursorClass === undefined) {
      this.cursorClass = cursorClass;
      this.largest = value;
      this.largestType = type;
      return;
    }
    if (cursorClass !== this.cursorClass) throw mixedTypes(this.label, this.cursor, this.largestType, type);
    if (compareCursorValues(value, this.largest, cursorClass) > 0) {
      this.largest = value;
      this.largestType = type;
    }
  }

  /** The largest value seen, with its type name; undefined when no document had one. */
  get result(): { value: unknown; type: string; cursorClass: CursorClass } | undefined {
    return this.cursorClass === undefined
      ? undefined
      : { value: this.largest, type: this.largestType, cursorClass: this.cursorClass };
  }
}

function mixedTypes(label: string, cursor: string, first: string, second: string): PwError {
  return new PwError(
    'PW_DB_TYPE',
    `${label}: the incremental cursor '${cursor}' holds values of two types, ${first} and ${second}`,
    {
      path: 'with.incremental.cursor',
      found: `${first} and ${second}`,
      expected: 'values of one type (numbers of any type count as one)',
      hint: `MongoDB compares ${cursor} > mark only within one type, so a mark of one type would never select the others: store ${cursor} as one type, or choose another cursor.`,
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// The step's side: reading the mark, proposing the next one

export interface IncrementalRead {
  cursor: string;
  /** The mark this read starts above (undefined: from the start). */
  since: unknown;
  tracker: MarkTracker;
}

/** Readable text of a cursor value for outputs and the log: ISO dates, hex ObjectIds, exact numbers. */
export function markText(value: unknown): string {
  if (typeof value === 'string') return value;
  const tagged = value as Tagged;
  if (tagged?._bsontype === 'Timestamp') return `Timestamp(${tagged.t ?? 0}, ${tagged.i ?? 0})`;
  return stageValue(value)?.text ?? String(value);
}

/** Reads `initial` (a number, a string, or an Extended JSON value such as `{ $date: … }`). */
async function initialMark(incremental: MongoIncrementalConfig, label: string): Promise<unknown> {
  if (incremental.initial === undefined) return undefined;
  const { BSON } = await import('mongodb');
  let value: unknown;
  try {
    value = (BSON.EJSON.deserialize({ initial: incremental.initial }, { relaxed: false }) as Document)
      .initial;
  } catch (error) {
    value = error;
  }
  const invalid =
    value instanceof Error ||
    (value instanceof Date && Number.isNaN(value.getTime())) ||
    cursorType(value).cursorClass === undefined;
  if (invalid) {
    throw new PwError('PW_SPEC_TYPE', `${label}: with.incremental.initial is not a value a cursor can hold`, {
      path: 'with.incremental.initial',
      expected:
        'a number, a string, or Extended JSON such as { $date: "2026-01-01T00:00:00Z" } or { $oid: "…" }',
      found: value instanceof Error ? value.message : cursorType(value).type,
    });
  }
  return value;
}

/** The mark to read above: the committed one of the same cursor, else `initial`, else none. */
export async function startIncremental(
  ctx: StepContext,
  incremental: MongoIncrementalConfig,
  label: string,
): Promise<IncrementalRead> {
  const stored = (await ctx.incremental.get()) as StoredMongoMark | undefined;
  let since: unknown;
  if (stored !== undefined && stored.cursor === incremental.cursor) {
    const { BSON } = await import('mongodb');
    since = BSON.EJSON.parse(stored.value, { relaxed: false });
  } else {
    if (stored !== undefined) {
      ctx.log.warn(
        `the cursor changed from '${stored.cursor}' to '${incremental.cursor}'; reading from the start again`,
      );
    }
    since = await initialMark(incremental, label);
  }
  return { cursor: incremental.cursor, since, tracker: new MarkTracker(incremental.cursor, label) };
}

/**
 * After every document was read: proposes the largest cursor value as the next mark (committed when
 * the run succeeds) and returns the step's `incremental` output.
 */
export async function finishIncremental(
  ctx: StepContext,
  read: IncrementalRead,
  documents: number,
  label: string,
): Promise<Record<string, unknown>> {
  const { tracker, cursor, since } = read;
  const found = tracker.result;
  const output = {
    cursor,
    since: since === undefined ? null : markText(since),
    until: found === undefined ? null : markText(found.value),
    type: found?.type ?? null,
    missing: tracker.missing,
  };
  if (tracker.missing > 0) {
    ctx.log.warn(
      `${tracker.missing} of ${documents} documents have no ${cursor} (or null there); they are read now but never by a later run`,
    );
  }
  if (found === undefined) {
    if (documents > 0) {
      throw new PwError(
        'PW_SPEC_TYPE',
        `${label}: none of the ${documents} documents read has the incremental cursor '${cursor}', so no mark can be kept`,
        {
          path: 'with.incremental.cursor',
          hint: `Check the field name (a dotted path reaches into nested documents); a projection or an aggregation must keep ${cursor} in the documents it returns.`,
        },
      );
    }
    ctx.log.info(`no documents with ${cursor} above the mark; the mark stays`);
    return output;
  }
  if (since !== undefined) {
    const sinceClass = cursorType(since).cursorClass;
    if (sinceClass !== found.cursorClass) throw mixedTypes(label, cursor, cursorType(since).type, found.type);
    if (compareCursorValues(found.value, since, found.cursorClass) <= 0) {
      ctx.log.warn(
        `the largest ${cursor} read (${output.until}) is not above the mark (${output.since}); the mark stays`,
      );
      return output;
    }
  }
  const { BSON } = await import('mongodb');
  await ctx.incremental.propose({
    cursor,
    value: BSON.EJSON.stringify(found.value, { relaxed: false }),
  } satisfies StoredMongoMark);
  ctx.log.info(
    `incremental window ${output.since ?? '(start)'} < ${cursor} <= ${output.until}; the mark advances when the run succeeds`,
  );
  return output;
}
