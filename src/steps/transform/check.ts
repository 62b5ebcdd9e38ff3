/**
 * `check`: data-quality rules over a dataset (row counts, not-null, unique, accepted values, ranges,
 * custom SQL that must return no rows). Every rule is evaluated, then all failures are reported in
 * one error; rules with severity `warn` only log and show up as warnings of the step.
 */
import { z } from 'zod';
import { defineStep, type Datasets } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { compileRule, ruleSchema } from './check-rules.js';
import { referencedSteps } from './sql-text.js';
import { sqlError } from './duckdb-errors.js';
import { setParamVariables } from './param-variables.js';

const SAMPLE_ROWS = 5;

interface Finding {
  label: string;
  severity: 'fail' | 'warn';
  detail: string;
}

export const checkStep = defineStep({
  type: 'check',
  kind: 'transform',
  description: 'Checks a dataset against data-quality rules; failing rules fail the run or warn.',
  producesDataset: false,
  config: z.strictObject({
    input: z.string().describe('The step whose dataset is checked.'),
    rules: z.array(ruleSchema).min(1).describe('The rules; each is an object with one rule key.'),
    severity: z
      .enum(['fail', 'warn'])
      .default('fail')
      .describe('What a violated rule does unless it says otherwise.'),
  }),
  inputs: (config, knownSteps) => [
    ...new Set([
      config.input,
      ...config.rules.flatMap((rule) => ('sql' in rule ? referencedSteps(rule.sql, knownSteps) : [])),
    ]),
  ],
  async run(ctx, config) {
    if (!(await datasetExists(ctx.datasets, config.input))) {
      throw new PwError('PW_DATASET_UNKNOWN', `There is no dataset '${config.input}' to check`, {
        hint: 'Name a step that produces a dataset (files.read, sql, …) in `input`.',
      });
    }
    // Custom SQL rules read run parameters the same way sql steps do: getvariable('name').
    await setParamVariables(ctx.datasets.connection, ctx.run.params);
    const findings: Finding[] = [];
    for (const rule of config.rules) {
      ctx.signal.throwIfAborted();
      const severity = rule.severity ?? config.severity;
      const compiled = compileRule(rule, config.input);
      if ('rowCount' in compiled) {
        const rows = await ctx.datasets.rowCount(config.input);
        const { min, max } = compiled.rowCount;
        if ((min !== undefined && rows < min) || (max !== undefined && rows > max)) {
          findings.push({ label: compiled.label, severity, detail: `the dataset has ${rows} rows` });
        }
        continue;
      }
      let count: number;
      let samples: Record<string, unknown>[];
      try {
        count = (await ctx.datasets.query<{ n: number }>(compiled.countSql))[0]?.n ?? 0;
        // Wrapped, so a custom query with its own LIMIT (or a trailing comment) still takes one.
        samples =
          count > 0
            ? await ctx.datasets.query(`SELECT * FROM (${compiled.violationsSql}\n) LIMIT ${SAMPLE_ROWS}`)
            : [];
      } catch (cause) {
        throw sqlError(cause, 1, `Rule ${compiled.label}`);
      }
      if (count > 0) {
        const shown = samples.map((row) =>
          JSON.stringify(row, (_key, value: unknown) =>
            typeof value === 'bigint' ? value.toString() : value,
          ),
        );
        findings.push({
          label: compiled.label,
          severity,
          detail: `${count} violating row${count === 1 ? '' : 's'}, e.g. ${shown.join('; ')}`,
        });
      }
    }

    const warnings = findings.filter((finding) => finding.severity === 'warn');
    for (const warning of warnings) ctx.log.warn(`check ${warning.label}: ${warning.detail}`);
    const failures = findings.filter((finding) => finding.severity === 'fail');
    if (failures.length > 0) {
      throw new PwError(
        'PW_CHECK_FAILED',
        `${failures.length} of ${config.rules.length} rules failed on '${config.input}':\n${failures.map((failure) => `  - ${failure.label}: ${failure.detail}`).join('\n')}`,
        { hint: 'Fix the input data, or set `severity: warn` on a rule that should not stop the run.' },
      );
    }
    ctx.log.info(
      `${config.rules.length} rules passed${warnings.length > 0 ? ` (${warnings.length} with warnings)` : ''}`,
    );
    return {
      outputs: { rules: config.rules.length, warnings: warnings.length },
      warnings: warnings.map((warning) => `${warning.label}: ${warning.detail}`),
    };
  },
});

/** A dataset is a table, or a view for a `sql` step with `materialize: view`. */
async function datasetExists(datasets: Datasets, name: string): Promise<boolean> {
  if (await datasets.exists(name)) return true;
  const views = await datasets.query<{ n: number }>(
    "SELECT count(*) AS n FROM duckdb_views() WHERE schema_name = 'main' AND NOT temporary AND NOT internal AND view_name = $name",
    { name },
  );
  return (views[0]?.n ?? 0) > 0;
}
