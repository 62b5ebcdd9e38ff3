/**
 * Streams documents into the step's dataset in bounded memory. Documents arrive from any
 * AsyncIterable (the driver's FindCursor and AggregationCursor are ones); a batch at a time, each
 * field's value is staged as text in a temporary table through a DuckDB appender, a new field adding a
 * column (earlier documents get NULL there). Once every document was read, each column's DuckDB type
 * follows from the kinds of values seen (see bson-values.ts) and one `CREATE TABLE <step> AS SELECT`
 * casts the staged text inside `replaceOutput`, so the dataset appears whole or not at all. Only one
 * batch of documents is ever held in JavaScript.
 */
import type { DuckDBAppender, DuckDBDataChunkWriter, JS } from '@duckdb/node-api';
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { FieldColumn, isPlainDocument } from './bson-values.js';

/** More columns than this is a collection keyed by data (ids as field names): refuse with a hint. */
export const MAX_COLUMNS = 2000;

export interface DocumentSinkOptions {
  batchSize: number;
  /** Spread nested documents into dotted columns (`address.city`); arrays stay JSON. */
  flatten: boolean;
  /** `struct`: JSON columns become DuckDB STRUCT/LIST with the structure of all their values. */
  nested: 'json' | 'struct';
  /** Column name → DuckDB type overrides (`columns:`). */
  columns: Readonly<Record<string, string>>;
  /** Starts every message: `Step 'x', connection 'y' (…)`. */
  label: string;
  /** Called after each batch was appended, with the documents read so far. */
  onBatch?: (documents: number) => void;
}

export interface DocumentSinkResult {
  rows: number;
  notes: string[];
  columns: { name: string; type: string }[];
}

type Document = Record<string, unknown>;

export async function streamDocumentsIntoDataset(
  ctx: StepContext,
  documents: AsyncIterable<Document>,
  options: DocumentSinkOptions,
): Promise<DocumentSinkResult> {
  const staging = `__pw_mongo_${ctx.stepId}`;
  const stagingRef = `temp.main.${quoteIdent(staging)}`;
  await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`);
  // A column that is always there, so a table exists before the first field is seen.
  await ctx.datasets.run(`CREATE TEMP TABLE ${quoteIdent(staging)} (pw_doc BOOLEAN)`);
  const columns: FieldColumn[] = [];
  const byName = new Map<string, FieldColumn>();
  const byLower = new Map<string, string>();
  let appender: DuckDBAppender | undefined;
  let writer: DuckDBDataChunkWriter<JS> | undefined;
  const closeAppender = (): void => {
    writer?.flush();
    appender?.closeSync();
    appender = undefined;
    writer = undefined;
  };
  const columnFor = (name: string): FieldColumn => {
    const existing = byName.get(name);
    if (existing !== undefined) return existing;
    const clash = byLower.get(name.toLowerCase());
    if (clash !== undefined) {
      throw new PwError(
        'PW_DB_TYPE',
        `${options.label}: fields '${clash}' and '${name}' differ only in case, but DuckDB column names ignore case`,
        {
          path: 'with',
          hint: 'Rename one of them in the projection or a $project stage, e.g. { name2: "$Name" }.',
        },
      );
    }
    if (name === '') {
      throw new PwError('PW_DB_TYPE', `${options.label}: a document has a field with an empty name`, {
        path: 'with',
        hint: 'Leave it out with a projection, or rename it in a $project stage.',
      });
    }
    if (columns.length >= MAX_COLUMNS) {
      throw new PwError(
        'PW_DB_TYPE',
        `${options.label}: the documents have more than ${MAX_COLUMNS} distinct fields${options.flatten ? ' (with flatten)' : ''}`,
        {
          path: 'with',
          hint: 'Field names that are data (ids, dates as keys) make a column each: choose fields with a projection, or turn such documents into arrays with $objectToArray.',
        },
      );
    }
    const column = new FieldColumn(name, columns.length);
    columns.push(column);
    byName.set(name, column);
    byLower.set(name.toLowerCase(), name);
    return column;
  };
  const stageDocument = (document: Document, row: (string | null)[], prefix: string): void => {
    for (const [key, value] of Object.entries(document)) {
      const name = prefix + key;
      if (options.flatten && isPlainDocument(value)) {
        stageDocument(value, row, `${name}.`);
        continue;
      }
      const column = columnFor(name);
      const text = column.stage(value);
      if (text !== undefined) row[column.index + 1] = text;
    }
  };

  try {
    let rows = 0;
    const iterator = documents[Symbol.asyncIterator]();
    let done = false;
    try {
      while (!done) {
        ctx.signal.throwIfAborted();
        const batch: Document[] = [];
        while (batch.length < options.batchSize) {
          const next = await iterator.next();
          if (next.done === true) {
            done = true;
            break;
          }
          batch.push(next.value);
        }
        if (batch.length === 0) break;
        const known = columns.length;
        const staged = batch.map((document) => {
          // Index 0 is the pw_doc column; a field's text goes to its column's index + 1.
          const row: (string | null)[] = [];
          stageDocument(document, row, '');
          return row;
        });
        if (columns.length > known || appender === undefined) {
          closeAppender();
          for (const column of columns.slice(known)) {
            await ctx.datasets.run(`ALTER TABLE ${stagingRef} ADD COLUMN c${column.index} VARCHAR`);
          }
          const { DuckDBDataChunkWriter: ChunkWriter, JSToDuckDBValueConverter } =
            await import('@duckdb/node-api');
          appender = await ctx.datasets.connection.createAppender(staging, 'main', 'temp');
          writer = ChunkWriter.forAppender(appender, { converter: JSToDuckDBValueConverter });
        }
        const width = columns.length + 1;
        for (const row of staged) {
          const full: (string | boolean | null)[] = new Array<string | null>(width).fill(null);
          full[0] = true;
          for (let index = 1; index < width; index += 1) full[index] = row[index] ?? null;
          writer?.appendRow(full);
        }
        rows += batch.length;
        options.onBatch?.(rows);
      }
    } catch (error) {
      // Close the server's cursor when the step stops early.
      await iterator.return?.().catch(() => undefined);
      throw error;
    } finally {
      closeAppender();
    }
    return await publish(ctx, columns, stagingRef, rows, options);
  } finally {
    await ctx.datasets.run(`DROP TABLE IF EXISTS ${stagingRef}`).catch(() => undefined);
  }
}

interface Planned {
  column: FieldColumn | undefined;
  name: string;
  type: string;
  /** The SELECT expression turning staged text into the type. */
  expression: string;
}

async function publish(
  ctx: StepContext,
  columns: readonly FieldColumn[],
  stagingRef: string,
  rows: number,
  options: DocumentSinkOptions,
): Promise<DocumentSinkResult> {
  const overrides = new Map(
    Object.entries(options.columns).map(([name, type]) => [name.toLowerCase(), type]),
  );
  const notes: string[] = [];
  const planned: Planned[] = [];
  for (const column of columns) {
    const staged = quoteIdent(`c${column.index}`);
    const override = overrides.get(column.name.toLowerCase());
    overrides.delete(column.name.toLowerCase());
    if (override !== undefined) {
      planned.push({
        column,
        name: column.name,
        type: override,
        expression: castTo(column, staged, override),
      });
      continue;
    }
    const target = column.target();
    if (target.note !== undefined) notes.push(target.note);
    if (target.type === 'JSON' && options.nested === 'struct') {
      const structure = await ctx.datasets.query<{ structure: string | null }>(
        `SELECT json_group_structure(${staged}::JSON)::VARCHAR AS structure FROM ${stagingRef}`,
      );
      const text = structure[0]?.structure;
      if (text !== null && text !== undefined) {
        const expression = `json_transform(${staged}::JSON, ${quoteLiteral(text)})`;
        const typed = await ctx.datasets.query<{ type: string }>(
          `SELECT typeof(${expression}) AS type FROM ${stagingRef} LIMIT 1`,
        );
        planned.push({ column, name: column.name, type: typed[0]?.type ?? 'JSON', expression });
        continue;
      }
    }
    planned.push({
      column,
      name: column.name,
      type: target.type,
      expression: castTo(column, staged, target.type),
    });
  }
  // Overrides for fields no document had still give typed columns (all NULL): an empty result keeps its shape.
  for (const [lower, type] of overrides) {
    const name = Object.keys(options.columns).find((key) => key.toLowerCase() === lower) ?? lower;
    planned.push({ column: undefined, name, type, expression: `CAST(NULL AS ${type})` });
  }
  if (planned.length === 0) {
    planned.push({ column: undefined, name: '_id', type: 'VARCHAR', expression: 'CAST(NULL AS VARCHAR)' });
  }
  const select = planned.map((plan) => `${plan.expression} AS ${quoteIdent(plan.name)}`).join(', ');
  try {
    await ctx.datasets.replaceOutput(
      async (table) => {
        await ctx.datasets.run(`CREATE TABLE ${table} AS SELECT ${select} FROM ${stagingRef} ORDER BY rowid`);
      },
      { countRows: false },
    );
  } catch (error) {
    throw (await castFailure(ctx, stagingRef, planned, options.label)) ?? error;
  }
  return { rows, notes, columns: planned.map((plan) => ({ name: plan.name, type: plan.type })) };
}

function castTo(column: FieldColumn, staged: string, type: string): string {
  const upper = type.trim().toUpperCase();
  if (upper === 'VARCHAR' || upper === 'TEXT') return staged;
  // Binary values are staged as hex; a BLOB column takes their bytes.
  if (upper === 'BLOB' && [...column.kinds].every((kind) => kind === 'binary' || kind === 'uuid'))
    return `from_hex(${staged})`;
  return `CAST(${staged} AS ${type})`;
}

/** Finds the first staged value that does not cast to its column's type, for a message naming it. */
async function castFailure(
  ctx: StepContext,
  stagingRef: string,
  planned: readonly Planned[],
  label: string,
): Promise<PwError | undefined> {
  for (const plan of planned) {
    if (plan.column === undefined || !plan.expression.startsWith('CAST(')) continue;
    const staged = quoteIdent(`c${plan.column.index}`);
    let found: { value: string; row: number } | undefined;
    try {
      const rows = await ctx.datasets.query<{ value: string; row: number }>(
        `SELECT ${staged} AS value, CAST(rowid + 1 AS INTEGER) AS row FROM ${stagingRef}
         WHERE ${staged} IS NOT NULL AND TRY_CAST(${staged} AS ${plan.type}) IS NULL ORDER BY rowid LIMIT 1`,
      );
      found = rows[0];
    } catch {
      continue;
    }
    if (found === undefined) continue;
    const value = found.value.length > 80 ? `${found.value.slice(0, 80)}…` : found.value;
    return new PwError(
      'PW_DB_TYPE',
      `${label}: document ${found.row}, field '${plan.name}': ${quoteLiteral(value)} does not fit DuckDB type ${plan.type}`,
      {
        path: 'with.columns',
        expected: plan.type,
        found: value,
        hint: `Choose another type, or read the field as text: columns: { "${plan.name}": VARCHAR }.`,
      },
    );
  }
  return undefined;
}
