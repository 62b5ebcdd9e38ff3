/**
 * The report template language: Pipewright's sandboxed Liquid (no JavaScript, no file access,
 * include/render/layout refused, own properties only, strict variables and filters, bounded size and
 * time, dates in the pipeline's zone) with two differences for HTML output:
 *
 * - every `{{ … }}` output is HTML-escaped, so a data value such as `<script>` prints as text
 *   (`| raw` opts out, for text the template author trusts);
 * - helper tags write finished, already escaped HTML: `{% table %}`, `{% tables %}`, `{% metric %}`,
 *   `{% metrics %}`, `{% chart %}`, `{% charts %}` and `{% run_info %}`.
 *
 * The helpers themselves (queries, formatting, HTML) are given per render as `ReportHelpers`, so this
 * module knows Liquid and nothing about datasets.
 */
import {
  Hash,
  Liquid,
  Tag,
  type Context,
  type Emitter,
  type TagToken,
  type Template,
  type TopLevelToken,
} from 'liquidjs';
import { PwError } from '../../core/errors/pw-error.js';
import {
  ZONE_KEY,
  isoInZone,
  registerFilters,
  toJson,
  zoneOf,
  type FilterThis,
} from '../../core/template/filters.js';
import { isPlainObject } from '../../core/template/field-path.js';
import { closestNames, orList } from '../../core/template/suggest.js';
import { RefusedTagError, TemplateError, convertLiquidError } from '../../core/template/template-error.js';
import { escapeHtml, formatNumber, isNumberFormat } from './report-format.js';

/** What a helper tag gets besides its arguments: its name and the target it names, for messages. */
export interface TagCall {
  tag: string;
  /** The dataset, metric or chart named right after the tag name. */
  target: string | undefined;
  args: Record<string, unknown>;
}

/** The helpers a report render is given; each returns finished HTML. */
export type ReportHelpers = Record<HelperName, (call: TagCall) => string | Promise<string>>;

interface HelperSpec {
  /** What the positional argument names, when the tag takes one. */
  target?: 'dataset' | 'metric' | 'chart';
  keys: readonly string[];
}

export const HELPER_TAGS = {
  table: {
    target: 'dataset',
    keys: ['columns', 'labels', 'format', 'totals', 'order_by', 'max_rows', 'title', 'caption'],
  },
  tables: { keys: [] },
  metric: { target: 'metric', keys: [] },
  metrics: { keys: [] },
  chart: { target: 'chart', keys: ['caption'] },
  charts: { keys: [] },
  run_info: { keys: [] },
} as const satisfies Record<string, HelperSpec>;

export type HelperName = keyof typeof HELPER_TAGS;

/** Render-time globals key carrying the helpers; a symbol, so no template can read or replace it. */
const HELPERS_KEY: unique symbol = Symbol('pipewright.report.helpers');

function helpersOf(ctx: Context): ReportHelpers {
  const helpers = (ctx.globals as Record<symbol, unknown>)[HELPERS_KEY];
  if (helpers === undefined) throw new Error('report helpers are missing from the render context');
  return helpers as ReportHelpers;
}

function tagError(
  tag: string,
  message: string,
  details: { expected?: string; found?: string; hint?: string | undefined },
) {
  return new PwError('PW_SPEC_TEMPLATE', `{% ${tag} %}: ${message}`, details);
}

function helperTag(name: HelperName, spec: HelperSpec) {
  return class HelperTag extends Tag {
    readonly #target: string | undefined;
    readonly #hash: Hash;

    constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
      super(token, remainTokens, liquid);
      const tokenizer = this.tokenizer;
      tokenizer.skipBlank();
      if (spec.target !== undefined) {
        const quoted = tokenizer.readQuoted();
        const target = quoted !== undefined ? quoted.content : tokenizer.readNonEmptyIdentifier()?.content;
        if (target === undefined || target === '') {
          throw tagError(name, `the tag needs the name of a ${spec.target}`, {
            expected: `{% ${name} <${spec.target}> %}`,
            found: `{% ${token.content} %}`,
          });
        }
        this.#target = target;
      }
      this.#hash = new Hash(tokenizer);
      tokenizer.skipBlank();
      if (!tokenizer.end()) {
        throw tagError(name, `cannot read '${tokenizer.remaining().trim()}'`, {
          expected:
            spec.keys.length > 0
              ? `options written as name: value, separated by commas (${spec.keys.join(', ')})`
              : 'no options',
          found: tokenizer.remaining().trim(),
        });
      }
      for (const key of Object.keys(this.#hash.hash)) {
        if ((spec.keys as readonly string[]).includes(key)) continue;
        const close = closestNames(key, spec.keys);
        throw tagError(name, `unknown option '${key}'`, {
          expected: spec.keys.length > 0 ? `one of ${spec.keys.join(', ')}` : 'no options',
          found: key,
          hint: close.length > 0 ? `Did you mean ${orList(close)}?` : undefined,
        });
      }
    }

    *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
      const args = (yield this.#hash.render(ctx)) as Record<string, unknown>;
      const html = yield helpersOf(ctx)[name]({ tag: name, target: this.#target, args });
      emitter.write(String(html));
    }
  };
}

/** Prints a value the way pipeline templates do (dates in the zone, objects as JSON), then escapes it. */
function escapeOutput(this: FilterThis, value: unknown): string {
  return escapeHtml(printable(value, zoneOf(this)));
}

function printable(value: unknown, zone: string): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return isoInZone(value, zone);
  if (Array.isArray(value)) return value.map((item: unknown) => printable(item, zone)).join('');
  if (isPlainObject(value)) return toJson(value, zone);
  return String(value as string);
}

/** `{{ value | number: '0.0' }}`: a number in the report's format language (see report-format.ts). */
function numberFilter(this: FilterThis, value: unknown, format?: unknown): string {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (value === null || value === undefined || value === '') return '';
  if (!Number.isFinite(number) && typeof value !== 'number') {
    throw new PwError('PW_TEMPLATE_RENDER', 'Filter `number`: the input is not a number', {
      expected: 'a number',
      found: typeof value === 'string' ? `text '${value.slice(0, 40)}'` : typeof value,
    });
  }
  if (format !== undefined && (typeof format !== 'string' || !isNumberFormat(format))) {
    throw new PwError('PW_TEMPLATE_RENDER', 'Filter `number`: the format is not a number format', {
      expected: "a format such as '0.0', '#,##0', '0.0%' or '0.0 °C'",
      found: String(format),
    });
  }
  const locale = (this.context.globals as Record<symbol, unknown>)[LOCALE_KEY];
  return formatNumber(number, format as string | undefined, typeof locale === 'string' ? locale : 'en-US');
}

const LOCALE_KEY: unique symbol = Symbol('pipewright.report.locale');

class RefusedTag {
  constructor(token: { name: string }) {
    throw new RefusedTagError(token.name);
  }
}

function createEngine(): Liquid {
  const liquid = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    lenientIf: true,
    templates: {},
    relativeReference: false,
    outputEscape: escapeOutput,
    parseLimit: 1_000_000,
    // Helper tags query DuckDB while rendering, so this bound is wall-clock time for the whole report.
    renderLimit: 120_000,
    memoryLimit: 100_000_000,
  });
  for (const tag of ['include', 'render', 'layout']) liquid.registerTag(tag, RefusedTag as never);
  registerFilters(liquid);
  liquid.registerFilter('number', numberFilter);
  for (const [name, spec] of Object.entries(HELPER_TAGS) as [HelperName, HelperSpec][])
    liquid.registerTag(name, helperTag(name, spec));
  return liquid;
}

const engine = createEngine();

/** Where a template came from, for messages: the field, and the file for `template_file`. */
export interface TemplateSource {
  path: string;
  file?: string | undefined;
  /** The built-in template: a position inside it means nothing to the reader. */
  builtin?: boolean;
}

function located(error: unknown, source: TemplateSource, scope?: Readonly<Record<string, unknown>>): PwError {
  const converted = convertLiquidError(error, {
    path: source.path,
    ...(scope === undefined ? {} : { scope }),
    filterNames: Object.keys(engine.filters),
  });
  const line = converted instanceof TemplateError ? converted.templateLine : undefined;
  const column = converted instanceof TemplateError ? (converted.templateColumn ?? 1) : undefined;
  let message = converted.message.replace(/ \(template line \d+, column \d+\)$/, '');
  // A helper's own error knows its field (with.datasets[0]); convertLiquidError put the template's.
  const original = converted.cause instanceof PwError ? converted.cause : undefined;
  let details = {
    path: original?.path ?? converted.path,
    expected: converted.expected,
    found: converted.found,
    hint: converted.hint,
    cause: converted,
  };
  const unknownTag = /tag "?([\w-]+)"? not found/.exec(message)?.[1];
  if (unknownTag !== undefined) {
    const known = Object.keys(engine.tags).filter((tag) => !['include', 'render', 'layout'].includes(tag));
    const close = closestNames(unknownTag, known);
    message = `Unknown tag \`${unknownTag}\``;
    details = {
      ...details,
      expected: `a Liquid tag or a report helper (${Object.keys(HELPER_TAGS).join(', ')})`,
      found: `{% ${unknownTag} %}`,
      hint:
        close.length > 0 ? `Did you mean ${orList(close)}?` : 'See the report reference for the helper tags.',
    };
  }
  if (line === undefined || source.builtin === true) return new PwError(converted.code, message, details);
  // TemplateError appends "(template line …)"; a template file names itself instead.
  if (source.file === undefined)
    return new TemplateError(converted.code, message, details, [line, column ?? 1]);
  return new PwError(
    converted.code,
    `${message} (${source.file} line ${line}, column ${column ?? 1})`,
    details,
  );
}

/** Parses a report template; PW_SPEC_TEMPLATE with the line and column when it does not parse. */
export function parseReportTemplate(text: string, source: TemplateSource): Template[] {
  try {
    return engine.parse(text);
  } catch (error) {
    throw located(error, source);
  }
}

export interface ReportRenderOptions {
  timezone: string;
  locale: string;
  helpers: ReportHelpers;
  source: TemplateSource;
}

export async function renderReportTemplate(
  templates: Template[],
  scope: Readonly<Record<string, unknown>>,
  options: ReportRenderOptions,
): Promise<string> {
  try {
    const result: unknown = await engine.render(
      templates,
      { ...scope },
      {
        globals: {
          [ZONE_KEY]: options.timezone,
          [LOCALE_KEY]: options.locale,
          [HELPERS_KEY]: options.helpers,
        },
      },
    );
    return typeof result === 'string' ? result : String(result);
  } catch (error) {
    throw located(error, options.source, scope);
  }
}

/** Names a template reads after helper tags (`{% table hourly %}` → hourly), for ordering steps. */
export function helperTargets(text: string): { tag: HelperName; target: string }[] {
  const found: { tag: HelperName; target: string }[] = [];
  for (const match of text.matchAll(/\{%-?\s*(table|metric|chart)\s+["']?([A-Za-z_][A-Za-z0-9_]*)/g)) {
    found.push({ tag: match[1] as HelperName, target: match[2] ?? '' });
  }
  return found;
}
