/**
 * DuckDB's error texts are written for its own shell: a headline, then pages of settings and
 * suggestions. A pipeline author needs the file, the line and what was wrong, so these helpers pull
 * exactly that out and leave the boilerplate behind.
 */
import { relative, isAbsolute, sep } from 'node:path';

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The first line of a DuckDB message without its category prefix ("Invalid Input Error: "). */
export function headline(message: string): string {
  const first = message.split('\n').find((line) => line.trim() !== '') ?? message;
  return first.replace(/^[A-Za-z ]*Error:\s*/, '').trim();
}

/** Shows a path as the pipeline author wrote it: relative to the project when it lies inside. */
export function displayPath(projectDir: string, path: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(projectDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  return rel.split(sep).join('/');
}

export interface CsvErrorDetail {
  file?: string | undefined;
  line?: number | undefined;
  originalLine?: string | undefined;
  problem: string;
}

/**
 * Parses DuckDB's "CSV Error on Line: N" family. The problem is the first line after
 * "Original Line:", which DuckDB phrases well enough on its own.
 */
export function parseCsvLineError(message: string): CsvErrorDetail | undefined {
  const lineMatch = /CSV Error on Line: (\d+)/.exec(message);
  if (!lineMatch?.[1]) return undefined;
  const lines = message.split('\n');
  const originalIndex = lines.findIndex((line) => line.startsWith('Original Line:'));
  const originalLine =
    originalIndex >= 0 ? lines[originalIndex]?.slice('Original Line:'.length).trim() : undefined;
  const afterOriginal = originalIndex >= 0 ? lines.slice(originalIndex + 1) : lines.slice(1);
  const problem = afterOriginal.find((line) => line.trim() !== '')?.trim() ?? headline(message);
  const fileMatch = /^\s*file = (.+)$/m.exec(message);
  return {
    file: fileMatch?.[1]?.trim(),
    line: Number(lineMatch[1]),
    originalLine,
    problem,
  };
}

/** "Error when sniffing file "x"": DuckDB could not work out the layout at all. */
export function parseSniffError(message: string): { file: string } | undefined {
  const match = /Error when sniffing file "([^"]+)"/.exec(message);
  return match?.[1] ? { file: match[1] } : undefined;
}

export interface JsonErrorDetail {
  file: string;
  /** The line for newline-delimited input; array input only has a record number. */
  where: string;
  problem: string;
}

export function parseJsonError(message: string): JsonErrorDetail | undefined {
  const match =
    /Malformed JSON in file "([^"]+)", at byte \d+ in (line|record\/value) (\d+): ([^\n]*?)\.?\s*(?:Parse errors|$)/m.exec(
      message,
    );
  if (!match?.[1] || !match[2] || !match[3] || match[4] === undefined) return undefined;
  const where = match[2] === 'line' ? `line ${match[3]}` : `record ${match[3]}`;
  return { file: match[1], where, problem: match[4].trim() };
}

export function parseNotParquet(message: string): { file: string } | undefined {
  const match = /No magic bytes found at end of file '([^']+)'/.exec(message);
  return match?.[1] ? { file: match[1] } : undefined;
}
