/**
 * Parquet input: typed already, so DuckDB reads it straight into the dataset table; `columns` only
 * casts. Several files are matched by column name, since writers do not promise a column order.
 */
import type { StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { displayPath, errorText, parseNotParquet } from './duckdb-errors.js';
import type { FilesReadConfig } from './files-read-schema.js';
import type { InputFile } from './input-files.js';
import {
  FILENAME_COLUMN,
  castReplace,
  checkColumnNames,
  fileListLiteral,
  filenameOption,
  readFailure,
  sourceSelect,
  type ReadOutcome,
} from './read-common.js';

export async function readParquet(
  ctx: StepContext,
  tempTable: string,
  files: readonly InputFile[],
  config: FilesReadConfig,
): Promise<ReadOutcome> {
  const overrides = config.columns ?? {};
  const source = sourceSelect(files, config.source_column);
  const reader = `read_parquet(${fileListLiteral(files)}, union_by_name = ${files.length > 1}${filenameOption(config.source_column)})`;
  try {
    const described = await ctx.datasets.query<{ column_name: string }>(`DESCRIBE SELECT * FROM ${reader}`);
    const columns = described.map((row) => row.column_name).filter((name) => name !== FILENAME_COLUMN);
    checkColumnNames(
      columns,
      overrides,
      config.source_column,
      files.length === 1 ? (files[0]?.relative ?? 'the input') : `the ${files.length} input files`,
    );
    await ctx.datasets.run(
      `CREATE ${config.materialize === 'view' ? 'VIEW' : 'TABLE'} ${tempTable} AS SELECT *${source.exclude}${castReplace(columns, overrides)}${source.extra} FROM ${reader}`,
    );
    return { rejectedRows: 0 };
  } catch (error) {
    const notParquet = error instanceof PwError ? undefined : parseNotParquet(errorText(error));
    if (notParquet) {
      const file = displayPath(ctx.projectDir, notParquet.file);
      throw new PwError('PW_INPUT_MALFORMED', `${file}: not a Parquet file`, {
        location: { file },
        expected: 'a Parquet file (ending in the PAR1 magic bytes)',
        hint: 'Check the path and `format`; a file still being written is also not yet a valid Parquet file.',
        cause: error,
      });
    }
    throw readFailure(error, files);
  }
}
