/** Quoting for identifiers and literals spliced into DuckDB SQL (values are bound, never spliced). */

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
