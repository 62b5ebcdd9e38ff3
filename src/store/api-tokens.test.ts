/**
 * Contract tests of the API token table over every adapter (SQLite and, when it answers, PostgreSQL):
 * tokens are found by hash, names are unique, revoking and touching record their times.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PwError } from '../core/errors/pw-error.js';
import { ADAPTERS } from './test-adapters.js';

const T0 = new Date('2026-11-23T04:00:00.000Z');
const T1 = new Date('2026-11-23T05:00:00.000Z');
const T2 = new Date('2026-11-23T06:00:00.000Z');

for (const adapter of ADAPTERS) {
  describe(`API tokens: ${adapter.name}`, () => {
    test('a created token is found by its hash and listed by name', async () => {
      const store = await adapter.open();
      try {
        const created = await store.createApiToken({ name: 'ci', scope: 'operate', hash: 'h-ci', at: T0 });
        await store.createApiToken({ name: 'board', scope: 'read', hash: 'h-board', at: T0 });
        assert.deepEqual(created, { id: created.id, name: 'ci', scope: 'operate', createdAt: T0 });
        assert.equal(typeof created.id, 'number');
        assert.deepEqual(await store.findApiTokenByHash('h-ci'), created);
        assert.equal(await store.findApiTokenByHash('h-other'), undefined);
        assert.deepEqual(
          (await store.listApiTokens()).map((token) => [token.name, token.scope]),
          [
            ['board', 'read'],
            ['ci', 'operate'],
          ],
        );
      } finally {
        await store.close();
      }
    });

    test('a name is taken once, even after a revoke', async () => {
      const store = await adapter.open();
      try {
        await store.createApiToken({ name: 'ci', scope: 'read', hash: 'h1', at: T0 });
        const taken = (error: unknown) => error instanceof PwError && error.code === 'PW_TOKEN_NAME_TAKEN';
        await assert.rejects(store.createApiToken({ name: 'ci', scope: 'admin', hash: 'h2', at: T0 }), taken);
        assert.equal(await store.revokeApiToken('ci', T1), true);
        await assert.rejects(store.createApiToken({ name: 'ci', scope: 'admin', hash: 'h3', at: T0 }), taken);
      } finally {
        await store.close();
      }
    });

    test('revoking keeps the first time; touching records the last use; both survive a reopen', async () => {
      const store = await adapter.open();
      let id = 0;
      try {
        id = (await store.createApiToken({ name: 'ci', scope: 'admin', hash: 'h1', at: T0 })).id;
        await store.touchApiToken(id, T1);
        assert.equal(await store.revokeApiToken('ci', T1), true);
        assert.equal(await store.revokeApiToken('ci', T2), true);
        assert.equal(await store.revokeApiToken('nobody', T2), false);
      } finally {
        await store.close();
      }
      const again = await adapter.reopen();
      try {
        assert.deepEqual(await again.findApiTokenByHash('h1'), {
          id,
          name: 'ci',
          scope: 'admin',
          createdAt: T0,
          lastUsedAt: T1,
          revokedAt: T1,
        });
      } finally {
        await again.close();
      }
    });
  });
}
