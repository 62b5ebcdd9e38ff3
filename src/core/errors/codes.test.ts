import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from './codes.js';
import { PACKAGE_ROOT } from '../../package-root.js';

describe('error codes', () => {
  const reference = readFileSync(join(PACKAGE_ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = new Set([...reference.matchAll(/^## (PW_[A-Z_]+)$/gm)].map((match) => match[1]));

  it('documents every code in docs/errors.md', () => {
    const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
    assert.deepEqual(missing, [], `add a "## CODE" section to docs/errors.md for: ${missing.join(', ')}`);
  });

  it('documents no code that does not exist', () => {
    const stale = [...documented].filter((code) => code !== undefined && !(code in ERROR_CODES));
    assert.deepEqual(stale, [], `remove from docs/errors.md: ${stale.join(', ')}`);
  });

  it('states the kind of each code next to it', () => {
    for (const [code, { kind }] of Object.entries(ERROR_CODES)) {
      const section = reference.split(`## ${code}\n`)[1]?.split('\n## ')[0] ?? '';
      assert.match(
        section,
        new RegExp(`Kind: ${kind}\\b`),
        `docs/errors.md: ${code} should say "Kind: ${kind}"`,
      );
    }
  });
});
