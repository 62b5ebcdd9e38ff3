/**
 * The rows a chart draws, read from the run database in a form Vega takes as it is: numbers stay
 * numbers (DECIMAL and HUGEINT become DOUBLE), temporal values become wall-clock text in the
 * pipeline's time zone (`2026-03-02T08:00:00.000Z`; the `Z` lets Vega read them as UTC, which the spec
 * also prints in UTC, so the wall clock is shown unchanged whatever zone the server is in), and
 * everything Vega has no use for (TIME, INTERVAL, UUID, lists, structs…) becomes text.
 */
import type { ColumnInfo, Row, StepContext } from '../../core/step.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';

const WALL_CLOCK = "'%Y-%m-%dT%H:%M:%S.%gZ'";

export interface ChartDataOptions {
  /** The pipeline's time zone: what the chart shows times in. */
  zone: string;
  /** The zone TIMESTAMP (without time zone) values were written in. */
  timestampZone: string;
  limit: number;
}

export function columnExpression(column: ColumnInfo, options: ChartDataOptions): string {
  const name = quoteIdent(column.name);
  const type = column.type.toUpperCase();
  const zone = quoteLiteral(options.zone);
  let expression: string;
  if (type === 'TIMESTAMP WITH TIME ZONE' || type === 'TIMESTAMPTZ') {
    expression = `strftime(timezone(${zone}, ${name}), ${WALL_CLOCK})`;
  } else if (type.startsWith('TIMESTAMP')) {
    const local = `CAST(${name} AS TIMESTAMP)`;
    expression =
      options.timestampZone === options.zone
        ? `strftime(${local}, ${WALL_CLOCK})`
        : `strftime(timezone(${zone}, timezone(${quoteLiteral(options.timestampZone)}, ${local})), ${WALL_CLOCK})`;
  } else if (type === 'DATE') {
    // A date-only text is read as UTC midnight by Vega, like the wall-clock texts above.
    expression = `strftime(${name}, '%Y-%m-%d')`;
  } else if (/^(DECIMAL|HUGEINT|UHUGEINT)\b/.test(type)) {
    expression = `CAST(${name} AS DOUBLE)`;
  } else if (
    /^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|VARCHAR)$/.test(
      type,
    )
  ) {
    return name;
  } else {
    expression = `CAST(${name} AS VARCHAR)`;
  }
  return `${expression} AS ${name}`;
}

/** At most `limit` rows of the named columns (all when `fields` is undefined), in dataset order. */
export async function readChartRows(
  ctx: StepContext,
  input: string,
  columns: readonly ColumnInfo[],
  fields: readonly string[] | undefined,
  options: ChartDataOptions,
): Promise<Row[]> {
  const selected = fields === undefined ? columns : columns.filter((column) => fields.includes(column.name));
  if (selected.length === 0) return [];
  const list = selected.map((column) => columnExpression(column, options)).join(', ');
  return ctx.datasets.query(`SELECT ${list} FROM ${quoteIdent(input)} LIMIT ${options.limit}`);
}
