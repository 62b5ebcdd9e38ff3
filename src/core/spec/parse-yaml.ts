/**
 * YAML text → plain value plus a way back from a field path to a line and column. Every later message
 * (schema, step config, cycles) points into the file through `locate`, so a user sees
 * `pipelines/daily.yaml:14:7` rather than a path they have to find by hand. Duplicate keys are
 * errors: YAML would silently keep the last one and a forgotten copy would win.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair, YAMLError } from 'yaml';
import { SpecError, type SpecIssue } from '../errors/pw-error.js';
import type { FieldPath } from './paths.js';

export interface Position {
  line: number;
  column: number;
}

/**
 * Where a path is in the file. A path that does not exist resolves to its nearest existing parent
 * (a missing required field points at the object that lacks it). `at: 'key'` points at the key of
 * the last segment instead of its value, which is what an unknown-field message wants.
 */
export type Locate = (path: FieldPath, at?: 'key' | 'value') => Position;

export interface ParsedYaml {
  value: unknown;
  locate: Locate;
}

export interface YamlReadResult extends ParsedYaml {
  /** PW_YAML_SYNTAX issues, in file order. */
  issues: SpecIssue[];
  /** True when the document structure cannot be trusted; false when only duplicate keys were found. */
  fatal: boolean;
}

const HINTS: Record<string, string> = {
  TAB_AS_INDENT: 'Indent with spaces; YAML does not allow tabs for indentation.',
  MULTIPLE_DOCS: 'A definition file holds one YAML document; remove the `---` separator and what follows.',
  MISSING_CHAR: 'A closing quote, bracket or separator is missing: check this line and the ones just above.',
  BAD_INDENT:
    'Check the indentation: items of one mapping or list must line up, and brackets must be closed.',
  BLOCK_AS_IMPLICIT_KEY:
    'A value cannot be followed by more indented keys on the next line; check the indentation, or quote a value containing ": ".',
  MULTILINE_IMPLICIT_KEY:
    'A key must fit on one line; check the indentation of the lines above, or quote a value containing ": ".',
  BAD_DQ_ESCAPE:
    'Inside "double quotes" a backslash starts an escape; use single quotes for paths and regular expressions.',
  TAG_RESOLVE_FAILED:
    'Pipewright does not use custom YAML tags; remove the `!tag` (secrets are written as ${env:NAME}).',
};
const GENERIC_HINT =
  'Check the indentation (spaces, not tabs) and that quotes and brackets are closed; quote values that contain ": " or start with *, &, ! or @.';
const ALIAS_HINT =
  "A value starting with * is read as a YAML alias; put it in quotes, e.g. cron: '*/5 * * * *'.";

interface DuplicateKey {
  key: string;
  firstOffset: number;
}

function keyText(pair: Pair): string | undefined {
  const key = pair.key;
  // With merge keys enabled, `<<` is parsed as a symbol.
  if (isScalar(key)) return typeof key.value === 'symbol' ? '<<' : String(key.value);
  return undefined;
}

function startOf(node: unknown): number | undefined {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    return range?.[0];
  }
  return undefined;
}

/** Indexes duplicate keys by the offset of the repeated key, so the message can name the first one. */
function findDuplicateKeys(doc: Document): Map<number, DuplicateKey> {
  const duplicates = new Map<number, DuplicateKey>();
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const key = keyText(pair);
        const offset = startOf(pair.key);
        if (key === undefined || offset === undefined) continue;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, offset);
        else duplicates.set(offset, { key, firstOffset: first });
      }
    },
  });
  return duplicates;
}

export function readYaml(text: string, file: string): YamlReadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, column: col };
  };
  const duplicates = findDuplicateKeys(doc);

  const found: { offset: number; code: string; message: string; hint: string }[] = [];
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) === undefined) {
        found.push({
          offset: startOf(alias) ?? 0,
          code: 'BAD_ALIAS',
          message: `Unknown YAML alias '*${alias.source}'`,
          hint: ALIAS_HINT,
        });
      }
    },
  });
  const fromParser = (error: YAMLError): void => {
    const offset = error.pos[0];
    const duplicate = duplicates.get(offset);
    if (error.code === 'DUPLICATE_KEY' && duplicate !== undefined) {
      const first = position(duplicate.firstOffset);
      found.push({
        offset,
        code: error.code,
        message: `Duplicate key '${duplicate.key}' (first defined on line ${first.line})`,
        hint: 'Each key may appear once in a mapping; remove one of them or merge their contents.',
      });
      return;
    }
    let at = offset;
    // The parser notices a missing closing quote at the end of the text; the opening quote is what to fix.
    const quote = /^Missing closing (["'])quote/.exec(error.message)?.[1];
    if (error.code === 'MISSING_CHAR' && quote !== undefined) {
      const opening = text.lastIndexOf(quote, Math.max(0, offset - 1));
      if (opening >= 0) at = opening;
    }
    found.push({
      offset: at,
      code: error.code,
      message: error.message,
      hint: HINTS[error.code] ?? GENERIC_HINT,
    });
  };
  doc.errors.forEach(fromParser);
  doc.warnings.forEach(fromParser);

  let value: unknown;
  let fatal = found.some((entry) => entry.code !== 'DUPLICATE_KEY');
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    fatal = true;
    if (found.length === 0) {
      const message = error instanceof Error ? error.message : String(error);
      found.push({ offset: startOf(doc.contents) ?? 0, code: 'TO_JS', message, hint: GENERIC_HINT });
    }
  }

  found.sort((a, b) => a.offset - b.offset);
  // An unclosed quote swallows the rest of the file, so whatever the parser says after it is noise.
  const unclosed = found.find((entry) => entry.code === 'MISSING_CHAR' && entry.message.includes('quote'));
  if (unclosed !== undefined) found.splice(found.indexOf(unclosed) + 1);
  // Later errors on a line are nearly always knock-on effects of the first one there.
  const issues: SpecIssue[] = [];
  const seenLines = new Set<number>();
  for (const entry of found) {
    const at = position(entry.offset);
    if (seenLines.has(at.line)) continue;
    seenLines.add(at.line);
    issues.push({
      code: 'PW_YAML_SYNTAX',
      message: entry.message,
      location: { file, line: at.line, column: at.column },
      path: '',
      hint: entry.hint,
    });
  }
  return { value, locate: makeLocate(doc, position), issues, fatal };
}

/** Parses a YAML file or throws a SpecError whose issues are all PW_YAML_SYNTAX. */
export function parseYaml(text: string, file: string): ParsedYaml {
  const result = readYaml(text, file);
  if (result.issues.length > 0) throw new SpecError(result.issues);
  return { value: result.value, locate: result.locate };
}

function findPair(doc: Document, map: unknown, key: string, depth = 0): Pair | undefined {
  if (!isMap(map) || depth > 20) return undefined;
  let merged: Pair | undefined;
  for (const pair of map.items) {
    if (keyText(pair) === key) return pair;
    // `<<: *base` merges another mapping; its keys count as this mapping's own.
    if (merged === undefined && keyText(pair) === '<<') {
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        merged ??= findPair(doc, resolve(doc, source), key, depth + 1);
      }
    }
  }
  return merged;
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function makeLocate(doc: Document, position: (offset: number) => Position): Locate {
  return (path, at = 'value') => {
    let node: unknown = resolve(doc, doc.contents);
    let best = startOf(node) ?? 0;
    for (let index = 0; index < path.length; index++) {
      const segment = path[index]!;
      const last = index === path.length - 1;
      if (isMap(node)) {
        const pair = findPair(doc, node, String(segment));
        if (pair === undefined || !isPair(pair)) break;
        const keyOffset = startOf(pair.key) ?? best;
        const valueOffset = startOf(pair.value);
        best = keyOffset;
        if (last && at === 'value' && valueOffset !== undefined) {
          // A block collection starts on the next line; the key line reads better.
          if (position(valueOffset).line === position(keyOffset).line) best = valueOffset;
        }
        node = resolve(doc, pair.value);
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        const offset = startOf(item);
        if (item === undefined || offset === undefined) break;
        best = offset;
        node = resolve(doc, item);
      } else {
        break;
      }
    }
    return position(best);
  };
}
