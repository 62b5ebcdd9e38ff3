/**
 * A small lexer for DuckDB SQL text: enough to split a script into statements and to list the
 * identifiers it mentions, while never looking inside string literals, quoted identifiers' quotes,
 * comments or dollar-quoted strings.
 */

export interface SqlStatement {
  text: string;
  /** 1-based line of the statement's first character within the whole script. */
  line: number;
}

interface Token {
  kind: 'identifier' | 'quoted-identifier' | 'semicolon' | 'other';
  value: string;
  start: number;
}

/** `$$` or `$tag$` where a tag is an identifier (letters, digits after the first, underscores). */
const DOLLAR_TAG = /\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/uy;
const IDENTIFIER_START = /[\p{L}_]/u;
const IDENTIFIER = /[\p{L}_][\p{L}\p{N}_$]*/uy;

function* tokens(sql: string): Generator<Token> {
  let i = 0;
  while (i < sql.length) {
    const char = sql[i] as string;
    const next = sql[i + 1];
    if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
    } else if (char === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (char === "'") {
      i = skipQuoted(sql, i, "'");
    } else if (char === '"') {
      const end = skipQuoted(sql, i, '"');
      // An unterminated identifier runs to the end of the text (DuckDB rejects it anyway).
      const valueEnd = end === sql.length && !isClosedAt(sql, i, '"') ? end : end - 1;
      yield { kind: 'quoted-identifier', value: sql.slice(i + 1, valueEnd).replaceAll('""', '"'), start: i };
      i = end;
    } else if (char === '$') {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql);
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
      } else {
        yield { kind: 'other', value: char, start: i };
        i += 1;
      }
    } else if (char === ';') {
      yield { kind: 'semicolon', value: ';', start: i };
      i += 1;
    } else if (IDENTIFIER_START.test(char)) {
      IDENTIFIER.lastIndex = i;
      const match = IDENTIFIER.exec(sql) as RegExpExecArray;
      if ((match[0] === 'E' || match[0] === 'e') && sql[i + 1] === "'") {
        // An escape string (E'it\'s'): a backslash escapes the next character, quote included.
        yield { kind: 'other', value: match[0], start: i };
        i = skipEscapeString(sql, i + 1);
      } else {
        yield { kind: 'identifier', value: match[0], start: i };
        i += match[0].length;
      }
    } else {
      if (!/\s/.test(char)) yield { kind: 'other', value: char, start: i };
      i += 1;
    }
  }
}

/** Block comments nest in DuckDB (as in PostgreSQL): `/* a /* b *\/ c *\/` is one comment. */
function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else i += 1;
  }
  return sql.length;
}

function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

function skipEscapeString(sql: string, start: number): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === '\\') i += 2;
    else if (sql[i] === "'") {
      if (sql[i + 1] === "'") i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

/** Whether the quoted token starting at `start` has its closing quote (the text may end inside it). */
function isClosedAt(sql: string, start: number, quote: string): boolean {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return true;
    } else i += 1;
  }
  return false;
}

function lineAt(sql: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i += 1) if (sql.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Splits on top-level semicolons; empty statements (only comments or blanks) are dropped. */
export function splitStatements(sql: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let firstTokenAt: number | undefined;
  const push = (end: number) => {
    if (firstTokenAt !== undefined) {
      statements.push({ text: sql.slice(firstTokenAt, end).trim(), line: lineAt(sql, firstTokenAt) });
    }
  };
  for (const token of tokens(sql)) {
    if (token.kind === 'semicolon') {
      push(token.start);
      start = token.start + 1;
      firstTokenAt = undefined;
    } else {
      firstTokenAt ??= token.start;
    }
  }
  void start;
  push(sql.length);
  return statements;
}

/** Every identifier mentioned (bare identifiers compared case-insensitively, as DuckDB does). */
export function mentionedIdentifiers(sql: string): Set<string> {
  const found = new Set<string>();
  for (const token of tokens(sql)) {
    if (token.kind === 'identifier') found.add(token.value.toLowerCase());
    else if (token.kind === 'quoted-identifier') found.add(token.value.toLowerCase());
  }
  return found;
}

/** The known step ids a query mentions, in the order given. */
export function referencedSteps(sql: string, knownSteps: readonly string[]): string[] {
  const mentioned = mentionedIdentifiers(sql);
  return knownSteps.filter((step) => mentioned.has(step.toLowerCase()));
}
