/**
 * The `http.fetch` step: GET or POST one URL, a JSON API across its pages, or one URL per item of a
 * list, a numeric range or a dataset column; the answers become the step's dataset (JSON records,
 * HTML rows by CSS selectors, or one status row per request) and linked files or the responses
 * themselves can be saved. Rows stream to an NDJSON file in the run workspace, in item order whatever
 * the concurrency, and DuckDB reads that file into the table with fixed column types for html/none.
 *
 * A status listed in `not_found` (404 and 410 while iterating) is data: a row with exists = false.
 * Header values never reach logs or messages; URLs there have secret-looking query values masked.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { defineStep, type StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { quoteIdent, quoteLiteral } from '../../core/sql-identifiers.js';
import { DOWNLOAD_COLUMNS, httpFetchConfig, type HttpFetchConfig } from './http-fetch-schema.js';
import { redactUrl } from './http-request.js';
import { columnType, normaliseColumns } from './http-parse.js';
import { resolveItems, type Item, type Row } from './http-items.js';
import { inOrder } from './http-pool.js';
import { Runner } from './http-runner.js';

function tableColumns(config: HttpFetchConfig, items: Item[] | undefined): string[] {
  const itemType = items?.every((item) => typeof item === 'number' && Number.isInteger(item))
    ? 'BIGINT'
    : 'VARCHAR';
  const columns = [`item ${itemType}`, 'url VARCHAR', 'status INTEGER', '"exists" BOOLEAN'];
  if (config.select !== undefined) {
    for (const [name, spec] of Object.entries(normaliseColumns(config.select))) {
      columns.push(`${quoteIdent(name)} ${columnType(spec)}`);
    }
  }
  if (config.download !== undefined)
    columns.push(`${DOWNLOAD_COLUMNS[0]} VARCHAR`, `${DOWNLOAD_COLUMNS[1]} BIGINT`);
  return columns;
}

async function buildTable(
  ctx: StepContext,
  config: HttpFetchConfig,
  items: Item[] | undefined,
  file: string,
  rows: number,
): Promise<number> {
  return ctx.datasets.replaceOutput(async (temp) => {
    if (config.parse === 'json') {
      if (rows === 0) {
        if (!config.allow_empty) {
          throw new PwError('PW_INPUT_EMPTY', `${redactUrl(config.url)} gave no records`, {
            hint: 'Check the records path; set allow_empty: true if an empty answer is normal.',
          });
        }
        await ctx.datasets.run(`CREATE TABLE ${temp} (_url VARCHAR)`);
        return;
      }
      await ctx.datasets.run(
        `CREATE TABLE ${temp} AS SELECT * FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', sample_size = -1)`,
      );
      return;
    }
    const definitions = tableColumns(config, items);
    await ctx.datasets.run(`CREATE TABLE ${temp} (${definitions.join(', ')})`);
    if (rows === 0) return;
    const struct = definitions
      .map((definition) => {
        const space = definition.indexOf(' ');
        return `${quoteLiteral(definition.slice(0, space).replaceAll('"', ''))}: ${quoteLiteral(definition.slice(space + 1))}`;
      })
      .join(', ');
    await ctx.datasets.run(
      `INSERT INTO ${temp} SELECT * FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${struct}})`,
    );
  });
}

export const httpFetchStep = defineStep({
  type: 'http.fetch',
  kind: 'extract',
  description:
    'Fetches JSON APIs (with pagination) or HTML pages (CSS selectors), per item of a list or range, into the step dataset; downloads files.',
  config: httpFetchConfig,
  inputs: (config) => (config.for_each?.dataset === undefined ? [] : [config.for_each.dataset]),
  async run(ctx, config) {
    const items = await resolveItems(ctx, config);
    const iterating = items !== undefined;
    const runner = new Runner(ctx, config, iterating);
    const file = join(ctx.workspaceDir, `${ctx.stepId}.http.${process.pid}.ndjson`);
    const out = createWriteStream(file);
    let rows = 0;
    const emit = async (batch: Row[]): Promise<void> => {
      for (const row of batch) {
        rows += 1;
        if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
      }
    };
    try {
      const list: (Item | undefined)[] = items ?? [undefined];
      await inOrder(
        list.length,
        config.concurrency,
        (index) =>
          config.parse === 'json' ? runner.jsonRows(list[index], iterating) : runner.pageRows(list[index]),
        emit,
      );
      out.end();
      await once(out, 'close');
      const count = await buildTable(ctx, config, items, file, rows);
      const { counters } = runner;
      ctx.log.info(
        `Fetched ${counters.requests} request(s) into ${count} row(s)${iterating ? ` for ${list.length} item(s), ${counters.notFound} not found` : ''}${counters.files.length > 0 ? `; saved ${counters.files.length} file(s)` : ''}`,
        { requests: counters.requests, rows: count, bytes: counters.bytes },
      );
      return {
        rows: count,
        bytes: counters.bytes,
        outputs: {
          requests: counters.requests,
          items: iterating ? list.length : 0,
          not_found: counters.notFound,
          files: counters.files,
        },
      };
    } catch (error) {
      if (ctx.signal.aborted && !(error instanceof PwError && error.code === 'PW_CANCELLED')) {
        throw new PwError('PW_CANCELLED', `Fetching ${redactUrl(config.url)} was cancelled`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      out.destroy();
      await rm(file, { force: true });
    }
  },
});
