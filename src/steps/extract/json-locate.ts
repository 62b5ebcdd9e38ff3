/**
 * Finds where a JSON document first breaks the grammar. DuckDB reports a record number and V8's
 * JSON.parse often reports no position at all, yet an author fixing a file needs a line and column.
 * Only used after a read has already failed, on files small enough to hold in memory.
 */

export interface JsonSyntaxError {
  line: number;
  column: number;
  problem: string;
}

class Failure {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {}
}

class Scanner {
  index = 0;

  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.index < this.text.length && ' \t\r\n'.includes(this.text.charAt(this.index))) this.index += 1;
  }

  fail(problem: string): never {
    throw new Failure(this.index, problem);
  }

  value(): void {
    this.skipSpace();
    const char = this.text.charAt(this.index);
    if (char === '{') this.object();
    else if (char === '[') this.array();
    else if (char === '"') this.string();
    else if (char === '-' || (char >= '0' && char <= '9')) this.number();
    else if (!this.literal('true') && !this.literal('false') && !this.literal('null')) {
      this.fail(
        char === '' ? 'the document ends where a value was expected' : `expected a value, found '${char}'`,
      );
    }
    this.skipSpace();
  }

  literal(word: string): boolean {
    if (!this.text.startsWith(word, this.index)) return false;
    this.index += word.length;
    return true;
  }

  object(): void {
    this.index += 1;
    this.skipSpace();
    if (this.text.charAt(this.index) === '}') {
      this.index += 1;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charAt(this.index) !== '"') this.fail('expected a property name in double quotes');
      this.string();
      this.skipSpace();
      if (this.text.charAt(this.index) !== ':') this.fail("expected ':' after the property name");
      this.index += 1;
      this.value();
      const next = this.text.charAt(this.index);
      this.index += 1;
      if (next === '}') return;
      if (next !== ',') {
        this.index -= 1;
        this.fail("expected ',' or '}' after a property value");
      }
    }
  }

  array(): void {
    this.index += 1;
    this.skipSpace();
    if (this.text.charAt(this.index) === ']') {
      this.index += 1;
      return;
    }
    for (;;) {
      this.value();
      const next = this.text.charAt(this.index);
      this.index += 1;
      if (next === ']') return;
      if (next !== ',') {
        this.index -= 1;
        this.fail("expected ',' or ']' after an array element");
      }
    }
  }

  string(): void {
    const start = this.index;
    this.index += 1;
    while (this.index < this.text.length) {
      const char = this.text.charAt(this.index);
      if (char === '"') {
        this.index += 1;
        return;
      }
      if (char === '\\') this.index += 1;
      else if (char < ' ')
        this.fail('a control character (such as a line break) inside a string must be escaped');
      this.index += 1;
    }
    this.index = start;
    this.fail('this string is never closed');
  }

  number(): void {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      this.text.slice(this.index, this.index + 400),
    );
    if (!match) this.fail('invalid number');
    this.index += match[0].length;
  }
}

export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const scanner = new Scanner(text);
  if (text.startsWith('\ufeff')) scanner.index = 1;
  try {
    scanner.value();
    if (scanner.index < text.length) scanner.fail('unexpected text after the end of the JSON value');
    return undefined;
  } catch (error) {
    if (!(error instanceof Failure)) return undefined;
    const before = text.slice(0, error.offset);
    const lineStart = before.lastIndexOf('\n') + 1;
    return { line: before.split('\n').length, column: error.offset - lineStart + 1, problem: error.problem };
  }
}
