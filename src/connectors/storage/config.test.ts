/** Tests for storage connection settings: defaults, validation messages, the embedded default folder. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { storageSettings } from './config.js';
import { checkKey } from './object-store.js';
import { asPwError as pw } from '../../testing/assertions.js';

describe('storage connection settings', () => {
  it('defaults to the project storage/ folder when a step names no connection', () => {
    assert.deepEqual(storageSettings(undefined, undefined, '/p'), {
      type: 'local',
      name: '(default)',
      dir: join('/p', 'storage'),
    });
  });

  it('reads an s3 connection with region auto and no path style by default', () => {
    const settings = storageSettings(
      'r2',
      { type: 's3', bucket: 'reports', access_key_id: 'k', secret_access_key: 's' },
      '/p',
    );
    assert.equal(settings.type, 's3');
    if (settings.type !== 's3') return;
    assert.equal(settings.region, 'auto');
    assert.equal(settings.forcePathStyle, false);
    assert.equal(settings.prefix, '');
    assert.equal(settings.maxAttempts, 3);
    assert.deepEqual(settings.credentials, { accessKeyId: 'k', secretAccessKey: 's' });
  });

  it('names the field of an invalid connection, never its secret', () => {
    for (const [raw, field] of [
      [{ type: 's3' }, 'bucket'],
      [{ type: 's3', bucket: 'bkt', access_key_id: 'k' }, 'secret_access_key'],
      [{ type: 's3', bucket: 'bkt', prefix: 'no-slash' }, 'prefix'],
      [{ type: 's3', bucket: 'bkt', endpoint: 'not a url' }, 'endpoint'],
      [{ type: 's3', bucket: 'bkt', colour: 'red' }, ''],
      [{ type: 'local' }, 'dir'],
    ] as const) {
      assert.throws(
        () => storageSettings('store', raw, '/p'),
        (error) => {
          const e = pw(error);
          assert.equal(e.code, 'PW_SPEC_TYPE');
          if (field !== '') assert.match(e.message, new RegExp(field));
          return true;
        },
      );
    }
    assert.throws(
      () => storageSettings('store', { type: 's3', bucket: 'bkt', secret_access_key: 'TopSecret-991' }, '/p'),
      (error) => !pw(error).message.includes('TopSecret-991'),
    );
  });

  it('accepts partitioned keys and refuses keys that could escape a folder', () => {
    checkKey('logs/year=2024/month=06/day=10/data-1.parquet', 'with.key');
    for (const key of ['', '/a', 'a/../b', 'a//b', './a', 'a\\b', 'a/\u0001']) {
      assert.throws(
        () => checkKey(key, 'with.key'),
        (error) => pw(error).code === 'PW_SPEC_TYPE',
      );
    }
  });
});
