/**
 * `pipewright token create|list|revoke`: bearer tokens for the REST API. `create` prints the new token
 * once, as its last line of output; the store keeps only its sha256, so a lost token is revoked and
 * replaced, never recovered.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { withProjectStore } from '../project-session.js';
import { PwError } from '../../core/errors/pw-error.js';
import { SCOPES, TOKEN_NAME, hashApiToken, isScope, newApiToken } from '../../api/tokens.js';

export async function tokenCreateCommand(
  globals: GlobalOptions,
  options: { name: string; scope: string },
): Promise<number> {
  if (!TOKEN_NAME.test(options.name)) {
    throw new PwError('PW_USAGE', `--name '${options.name}' is not a valid token name`, {
      hint: 'Use 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.',
    });
  }
  const scope = options.scope;
  if (!isScope(scope)) {
    throw new PwError('PW_USAGE', `--scope expects one of ${SCOPES.join(', ')}, found '${scope}'`);
  }
  return withProjectStore(globals, async ({ store }) => {
    const token = newApiToken();
    await store.createApiToken({ name: options.name, scope, hash: hashApiToken(token), at: new Date() });
    process.stdout.write(
      [
        `Created API token '${options.name}' (scope ${scope}). It is shown once; only its hash is stored.`,
        'Send it as: Authorization: Bearer <token>',
        token,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  });
}

export async function tokenListCommand(globals: GlobalOptions, options: { json?: boolean }): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    const tokens = await store.listApiTokens();
    const iso = (date: Date | undefined) => date?.toISOString() ?? null;
    if (options.json === true) {
      const rows = tokens.map((token) => ({
        name: token.name,
        scope: token.scope,
        created_at: iso(token.createdAt),
        last_used_at: iso(token.lastUsedAt),
        revoked_at: iso(token.revokedAt),
      }));
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    if (tokens.length === 0) {
      process.stdout.write(
        'No API tokens. Create one with: pipewright token create --name <name> --scope read\n',
      );
      return EXIT.ok;
    }
    const width = Math.max(4, ...tokens.map((token) => token.name.length));
    const lines = tokens.map((token) =>
      [
        token.name.padEnd(width),
        token.scope.padEnd(7),
        `created ${token.createdAt.toISOString()}`,
        token.lastUsedAt ? `last used ${token.lastUsedAt.toISOString()}` : 'never used',
        token.revokedAt ? `REVOKED ${token.revokedAt.toISOString()}` : '',
      ]
        .join('  ')
        .trimEnd(),
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  });
}

export async function tokenRevokeCommand(globals: GlobalOptions, name: string): Promise<number> {
  return withProjectStore(globals, async ({ store }) => {
    if (!(await store.revokeApiToken(name, new Date()))) {
      throw new PwError('PW_TOKEN_NOT_FOUND', `No API token is named '${name}'`, {
        hint: 'List tokens with: pipewright token list',
      });
    }
    process.stdout.write(`Revoked API token '${name}'; requests with it now get 401.\n`);
    return EXIT.ok;
  });
}
