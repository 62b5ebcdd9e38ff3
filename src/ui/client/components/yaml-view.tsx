/** A pipeline file, highlighted by a small line tokenizer: comments, keys, strings, numbers. */
import type { JSX } from 'preact';

/** One line split into classed pieces; `null` class is plain text. */
export type Token = [cls: string | null, text: string];

const KEY = /^(\s*(?:-\s+)?)([A-Za-z_][\w.-]*)(\s*:)(?=\s|$)/;
const TOKEN =
  /("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')|((?:^|(?<=\s))#.*$)|((?<=^|[\s,[{:])-?\d+(?:\.\d+)?(?=[\s,\]}]|$))/g;

export function tokenizeLine(line: string): Token[] {
  const tokens: Token[] = [];
  let rest = line;
  const key = KEY.exec(line);
  if (key) {
    tokens.push([null, key[1] ?? ''], ['y-key', key[2] ?? ''], [null, key[3] ?? '']);
    rest = line.slice(key[0].length);
  }
  let last = 0;
  for (const found of rest.matchAll(TOKEN)) {
    const at = found.index;
    if (at > last) tokens.push([null, rest.slice(last, at)]);
    const cls = found[1] !== undefined ? 'y-string' : found[2] !== undefined ? 'y-comment' : 'y-number';
    tokens.push([cls, found[0]]);
    last = at + found[0].length;
  }
  if (last < rest.length) tokens.push([null, rest.slice(last)]);
  return tokens;
}

export function YamlView({ source }: { source: string }) {
  const lines = source.replace(/\n$/, '').split('\n');
  return (
    <pre class="yaml" tabIndex={0} aria-label="Pipeline definition (YAML)">
      <code>
        {lines.map((line, number) => (
          <span key={number}>
            {tokenizeLine(line).map(([cls, text], index): JSX.Element | string =>
              cls === null ? (
                text
              ) : (
                <span key={index} class={cls}>
                  {text}
                </span>
              ),
            )}
            {'\n'}
          </span>
        ))}
      </code>
    </pre>
  );
}
