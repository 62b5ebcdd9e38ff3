/**
 * The pipeline template language: Liquid (`{{ run.scheduled_for | date: 'yyyyMMdd' }}`), sandboxed.
 * Templates cannot run JavaScript, cannot read files (include/render/layout are refused when parsed),
 * see only own properties of the data, and fail on unknown variables and filters.
 *
 * Scope seen by pipeline templates (`TemplateScope`):
 *   params   the run's parameters (object)
 *   run      { id, pipeline, scheduled_for: Date, started_at: Date, trigger, timezone }
 *   steps    { <stepId>: { rows, bytes, outputs: {...} } } for steps that already finished
 *   trigger  what fired the run (file name, payload metadata…); may be empty
 * `env` is deliberately absent: secrets reach configuration only through `${env:…}` references,
 * which src/core/secrets.ts resolves outside the template engine.
 *
 * Strictness is relaxed in one place (`lenientIf`): an unknown variable alone in `if`/`unless` or
 * before `default` is nil, so optional trigger fields can be tested: `{{ trigger.file | default: '-' }}`.
 * Printing a Date gives ISO-8601 in the pipeline zone; printing an object gives its JSON.
 */
import { DateTime } from 'luxon';
import { Liquid, Tokenizer, TokenKind, type Template } from 'liquidjs';
import { PwError } from '../errors/pw-error.js';
import { ZONE_KEY, isoInZone, registerFilters, toJson, zoneOf, type FilterThis } from './filters.js';
import { isPlainObject, mapStrings } from './field-path.js';
import { RefusedTagError, convertLiquidError } from './template-error.js';

export type RunScope = {
  id: string;
  pipeline: string;
  scheduled_for: Date;
  started_at: Date;
  trigger: string;
  timezone: string;
};

export type StepScope = { rows?: number; bytes?: number; outputs: Record<string, unknown> };

export type TemplateScope = {
  params: Record<string, unknown>;
  run: RunScope;
  steps: Record<string, StepScope>;
  trigger: Record<string, unknown>;
};

/** Any scope object; pipeline templates use `TemplateScope`, reports may add roots of their own. */
export type Scope = Readonly<Record<string, unknown>>;

export interface RenderOptions {
  /** IANA zone all date filters work in: the pipeline's time zone. */
  timezone: string;
  /** Field path of the template in the definition, carried into errors. */
  path?: string | undefined;
}

function printValue(this: FilterThis, value: unknown): string {
  if (value instanceof Date) return isoInZone(value, zoneOf(this));
  if (Array.isArray(value)) return value.map((item: unknown) => printValue.call(this, item)).join('');
  if (isPlainObject(value)) return toJson(value, zoneOf(this));
  // Numbers, nil and Liquid drops: the emitter stringifies them the usual Liquid way.
  return value as string;
}

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
    // An empty in-memory template map: even if a file lookup slipped through, it never hits the disk.
    templates: {},
    relativeReference: false,
    outputEscape: printValue,
    // Bounds against runaway templates ({% for i in (1..100000000) %}).
    parseLimit: 1_000_000,
    renderLimit: 5_000,
    memoryLimit: 100_000_000,
  });
  // RefusedTag only ever throws while parsing, so it needs none of Tag's members; hence the cast.
  for (const tag of ['include', 'render', 'layout']) liquid.registerTag(tag, RefusedTag as never);
  registerFilters(liquid);
  return liquid;
}

const engine = createEngine();
const filterNames = (): string[] => Object.keys(engine.filters);

const CACHE_LIMIT = 2_000;
const parsed = new Map<string, Template[]>();

function parse(text: string, path?: string): Template[] {
  const hit = parsed.get(text);
  if (hit !== undefined) {
    // Re-insert so the map's order approximates least-recently-used.
    parsed.delete(text);
    parsed.set(text, hit);
    return hit;
  }
  let templates: Template[];
  try {
    templates = engine.parse(text);
  } catch (error) {
    throw convertLiquidError(error, { path, filterNames: filterNames() });
  }
  if (parsed.size >= CACHE_LIMIT) {
    const oldest = parsed.keys().next();
    if (oldest.done !== true) parsed.delete(oldest.value);
  }
  parsed.set(text, templates);
  return templates;
}

/** True when the text contains Liquid markup at all; plain text is never handed to the engine. */
export function hasTemplate(text: string): boolean {
  return text.includes('{{') || text.includes('{%');
}

/** Throws PW_SPEC_TEMPLATE (a TemplateError with templateLine/templateColumn) when the text does not parse. */
export function checkTemplateSyntax(text: string, where: { path?: string } = {}): void {
  if (hasTemplate(text)) parse(text, where.path);
}

/** Spans of `{{ … }}` and `{% … %}` markup in the text (everything else is literal output). */
export function markupRanges(text: string): Array<{ begin: number; end: number }> {
  if (!hasTemplate(text)) return [];
  try {
    const tokens = new Tokenizer(text, engine.options.operators).readTopLevelTokens(engine.options);
    return tokens
      .filter((token) => token.kind !== TokenKind.HTML)
      .map((token) => ({ begin: token.begin, end: token.end }));
  } catch (error) {
    throw convertLiquidError(error, { filterNames: filterNames() });
  }
}

const knownZones = new Set<string>();

function assertZone(zone: string): void {
  if (knownZones.has(zone)) return;
  if (!DateTime.now().setZone(zone).isValid) {
    throw new PwError('PW_SPEC_TIMEZONE', `Unknown time zone '${zone}'`, {
      expected: 'an IANA time zone such as Europe/Berlin or UTC',
      found: zone,
    });
  }
  knownZones.add(zone);
}

export function renderTemplate(text: string, scope: Scope, options: RenderOptions): string {
  if (!hasTemplate(text)) return text;
  assertZone(options.timezone);
  const templates = parse(text, options.path);
  try {
    // A shallow copy: {% increment %} writes to the top level of the scope it is given, and one
    // template must not change what the next one sees.
    const result: unknown = engine.renderSync(
      templates,
      { ...scope },
      { globals: { [ZONE_KEY]: options.timezone } },
    );
    return typeof result === 'string' ? result : String(result);
  } catch (error) {
    throw convertLiquidError(error, { path: options.path, scope, filterNames: filterNames() });
  }
}

/** Renders every string in nested objects/arrays; other values and the shape are kept. */
export function renderDeep<T>(value: T, scope: Scope, options: RenderOptions): T {
  const render = (text: string, path: string): string =>
    hasTemplate(text) ? renderTemplate(text, scope, { ...options, path }) : text;
  return mapStrings(value, render, options.path ?? '');
}

/** Variables a template reads from its scope (e.g. `params.low`), for static checks of a definition. */
export function templateVariables(text: string): string[] {
  if (!hasTemplate(text)) return [];
  return engine.globalFullVariablesSync(parse(text));
}
