/**
 * The run log against a real SQLite store: batching, order, secret masking, and the fallback file
 * used when the store refuses the entries.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redactor } from '../core/secrets.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { LogEntry, StateStore } from '../store/state-store.js';
import { RunLog } from './run-log.js';

/** The real store, with appendLogs observed (and optionally slowed or broken) on the way through. */
function observed(store: StateStore, behaviour: { failWith?: Error; slowFirstCall?: number } = {}) {
  const batches: LogEntry[][] = [];
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === 'appendLogs') {
        return async (entries: readonly LogEntry[]) => {
          batches.push([...entries]);
          if (behaviour.failWith) throw behaviour.failWith;
          if (batches.length === 1 && behaviour.slowFirstCall) await delay(behaviour.slowFirstCall);
          await target.appendLogs(entries);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, batches };
}

describe('RunLog', () => {
  let dir: string;
  let store: StateStore;
  let runCounter = 0;
  let runId: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-run-log-'));
    store = await openSqliteStore(join(dir, 'state.db'));
    await store.savePipelineRevision({
      pipelineId: 'logs',
      hash: 'h',
      definition: {},
      sourcePath: 'pipelines/logs.yaml',
      at: new Date(),
    });
  });

  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    runCounter += 1;
    runId = `run-${runCounter}`;
    const now = new Date();
    await store.createRun({
      id: runId,
      pipelineId: 'logs',
      revision: 1,
      status: 'running',
      trigger: 'test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });
  });

  const fallbackFile = () => join(dir, 'logs', `${runId}.fallback.log`);

  it('holds entries back and stores them together in one batch, in order', async () => {
    const { store: spy, batches } = observed(store);
    const log = new RunLog(spy, runId, new Redactor(), fallbackFile());
    log.write('info', 'first');
    log.forStep('load').warn('second', { rows: 3 });
    log.write('error', 'third');
    assert.equal(batches.length, 0, 'entries were written one by one');
    await log.flush();
    assert.deepEqual(
      batches.map((batch) => batch.map((entry) => entry.message)),
      [['first', 'second', 'third']],
    );
    const stored = await store.listLogs(runId);
    assert.deepEqual(
      stored.map((entry) => [entry.level, entry.stepId, entry.message, entry.data]),
      [
        ['info', undefined, 'first', undefined],
        ['warn', 'load', 'second', { rows: 3 }],
        ['error', undefined, 'third', undefined],
      ],
    );
  });

  it('flushes on its own shortly after a write', async () => {
    const log = new RunLog(store, runId, new Redactor(), fallbackFile());
    log.write('info', 'eventually');
    for (let i = 0; i < 200 && (await store.listLogs(runId)).length === 0; i += 1) await delay(25);
    assert.deepEqual(
      (await store.listLogs(runId)).map((entry) => entry.message),
      ['eventually'],
    );
  });

  it('writes full batches as they fill and keeps the order even when a batch is slow', async () => {
    const { store: spy, batches } = observed(store, { slowFirstCall: 50 });
    const log = new RunLog(spy, runId, new Redactor(), fallbackFile());
    for (let i = 0; i < 1200; i += 1) log.write('debug', `line ${i}`);
    await log.flush();
    assert.deepEqual(
      batches.map((batch) => batch.length),
      [500, 500, 200],
    );
    const stored = await store.listLogs(runId, { limit: 5000 });
    assert.deepEqual(
      stored.map((entry) => entry.message),
      Array.from({ length: 1200 }, (_, i) => `line ${i}`),
    );
  });

  it('never lets a registered secret reach the store or the listener, in messages or data', async () => {
    const redactor = new Redactor();
    redactor.add('s3cr3t-t0ken');
    redactor.add('4711');
    const heard: LogEntry[] = [];
    const log = new RunLog(store, runId, redactor, fallbackFile(), (entry) => heard.push(entry));
    log.write('info', 'connecting with s3cr3t-t0ken');
    log.forStep('fetch').error('request failed', {
      url: 'https://api.example.com/?key=s3cr3t-t0ken',
      headers: { authorization: 'Bearer s3cr3t-t0ken' },
      attempts: [1, 2],
      // A numeric secret in the data: masking must not break the entry (or throw from write).
      pin: 4711,
      big: 47110n,
      ['s3cr3t-t0ken']: true,
    });
    await log.flush();
    const stored = await store.listLogs(runId);
    assert.equal(stored.length, 2);
    for (const entry of [...stored, ...heard]) {
      const text = JSON.stringify(entry);
      assert.ok(!text.includes('s3cr3t-t0ken'), text);
      assert.ok(!text.includes('4711'), text);
    }
    assert.equal(stored[0]?.message, 'connecting with [redacted]');
    assert.deepEqual(stored[1]?.data, {
      url: 'https://api.example.com/?key=[redacted]',
      headers: { authorization: 'Bearer [redacted]' },
      attempts: [1, 2],
      pin: '[redacted]',
      big: '[redacted]0',
      '[redacted]': true,
    });
    assert.equal(heard.length, 2);
  });

  it('writes the entries to the fallback file as JSON lines when the store refuses them', async () => {
    const { store: broken } = observed(store, { failWith: new Error('database is locked') });
    const redactor = new Redactor();
    redactor.add('hunter22');
    const log = new RunLog(broken, runId, redactor, fallbackFile());
    log.write('info', 'step started');
    log.forStep('load').error('password hunter22 rejected', { table: 'sales' });
    await log.flush(); // must not throw
    const lines = (await readFile(fallbackFile(), 'utf8')).trimEnd().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(entries.length, 2);
    assert.deepEqual(
      entries.map(({ runId: id, stepId, level, message, data, storeError }) => ({
        id,
        stepId,
        level,
        message,
        data,
        storeError,
      })),
      [
        {
          id: runId,
          stepId: undefined,
          level: 'info',
          message: 'step started',
          data: undefined,
          storeError: 'database is locked',
        },
        {
          id: runId,
          stepId: 'load',
          level: 'error',
          message: 'password [redacted] rejected',
          data: { table: 'sales' },
          storeError: 'database is locked',
        },
      ],
    );
    for (const entry of entries)
      assert.ok(!Number.isNaN(Date.parse(String(entry.at))), `bad time ${String(entry.at)}`);
    assert.deepEqual(await store.listLogs(runId), []);
  });
});
