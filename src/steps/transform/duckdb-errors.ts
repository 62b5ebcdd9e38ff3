/**
 * Turns DuckDB's error text into a PwError for a SQL statement written by the user: the message
 * keeps DuckDB's own explanation and its `LINE n:` excerpt, with the line number shifted so it
 * counts from the start of the user's query rather than from the start of one statement.
 */
import { PwError } from '../../core/errors/pw-error.js';

export function sqlError(cause: unknown, statementLine: number, what: string): PwError {
  const raw = cause instanceof Error ? cause.message : String(cause);
  const shifted = raw.replace(
    /LINE (\d+):/g,
    (_, line: string) => `LINE ${Number(line) + statementLine - 1}:`,
  );
  const firstLine = shifted.split('\n')[0] ?? shifted;
  return new PwError('PW_SQL_ERROR', `${what} failed: ${shifted.trim()}`, {
    cause,
    hint: hintFor(firstLine),
  });
}

function hintFor(message: string): string {
  if (/Table with name .* does not exist/i.test(message)) {
    return 'Datasets are named after the steps that produce them; check the step id, or add it to `needs` if it is produced later.';
  }
  if (/column .* not found|Referenced column/i.test(message)) {
    return "Check the column name against the input dataset (pipewright show <run> lists each step's columns), and quote mixed-case names with double quotes.";
  }
  if (/syntax error/i.test(message)) return 'Check the SQL near the position DuckDB points at.';
  if (/Conversion Error|Could not convert/i.test(message)) {
    return 'A value does not fit the target type; use TRY_CAST to turn bad values into NULL, or fix the input.';
  }
  return 'The query runs in DuckDB; test it with the DuckDB CLI against the run database (pipewright show <run> prints its path).';
}
