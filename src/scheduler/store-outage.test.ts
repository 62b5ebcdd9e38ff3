/**
 * The PostgreSQL state store going away in the middle of a run and coming back: a TCP proxy between
 * the worker and the server is cut (every connection dropped, new ones refused) while a step runs,
 * the step finishes during the outage, and the proxy is restored a few seconds later. The run must
 * end succeeded, on its first attempt, with its step executed once and every log line kept — in the
 * store or, for lines written while it was away, in the run's fallback log file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineStep } from '../core/step.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { projectSchema } from '../core/spec/project-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import type { Project } from '../project/load-project.js';
import { StepRegistry } from '../steps/registry.js';
import { sqlStep } from '../steps/transform/sql.js';
import { openPostgresStore } from '../store/postgres/open-postgres-store.js';
import type { StateStore } from '../store/state-store.js';
import { postgres, reportPostgresUnavailable } from '../store/test-adapters.js';
import { Worker } from './worker.js';

/** Forwards 127.0.0.1:<port> to the PostgreSQL server until cut; refuses connections while cut. */
class CuttableProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address === 'object' && address !== null) this.port = address.port;
    this.#server = server;
  }

  /** Drops every connection and stops listening: the store sees resets, then refusals. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let executions = 0;
let gateReached = false;
let releaseGate: () => void = () => undefined;
const gateOpen = new Promise<void>((resolve) => (releaseGate = resolve));

const gateStep = defineStep({
  type: 'test.gate',
  kind: 'custom',
  description: 'Logs, waits until the test releases it, logs again.',
  config: z.strictObject({}),
  producesDataset: false,
  async run(ctx) {
    executions += 1;
    ctx.log.info('gate: before the outage');
    gateReached = true;
    await gateOpen;
    ctx.log.info('gate: released while the store is away');
    return { rows: 0 };
  },
});

describe('the PostgreSQL store going away mid-run', { timeout: 90_000 }, () => {
  let root: string;
  let proxy: CuttableProxy;
  let store: StateStore | undefined;
  let worker: Worker | undefined;
  let project: Project;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-outage-'));
    await mkdir(join(root, 'project'), { recursive: true });
  });

  after(async () => {
    await worker?.stop(0);
    await proxy?.cut();
    await store?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('the run finishes once the store is back, with every log line kept', async (t) => {
    if (typeof postgres === 'string') return reportPostgresUnavailable(t, postgres);
    const direct = new URL(postgres.url(await postgres.migratedDatabase()));
    proxy = new CuttableProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.open();
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    store = await openPostgresStore(viaProxy.toString(), { connectTimeoutMs: 2_000 });

    project = {
      dir: join(root, 'project'),
      file: join(root, 'project', 'pipewright.yaml'),
      spec: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 1 } }),
      registry: new StepRegistry([sqlStep, gateStep]),
    };
    const spec = pipelineSchema.parse({
      id: 'p',
      steps: [
        { id: 'numbers', uses: 'sql', with: { query: 'SELECT range AS n FROM range(10)' } },
        { id: 'gate', uses: 'test.gate', needs: ['numbers'] },
        { id: 'total', uses: 'sql', needs: ['gate'], with: { query: 'SELECT sum(n) AS total FROM numbers' } },
      ],
    });
    const now = new Date();
    await store.savePipelineRevision({
      pipelineId: 'p',
      hash: definitionHash(spec),
      definition: spec,
      sourcePath: 'pipelines/p.yaml',
      at: now,
    });
    await store.enqueueRun({
      id: 'outage-1',
      pipelineId: 'p',
      revision: 1,
      status: 'queued',
      trigger: 'manual:test',
      params: {},
      scheduledFor: now,
      queuedAt: now,
    });

    const serviceLog: string[] = [];
    worker = new Worker({
      store,
      project,
      // A free slot keeps the claim loop polling through the outage.
      concurrency: 2,
      pollMs: 50,
      leaseMs: 15_000,
      env: {},
      log: (level, message) => serviceLog.push(`${level} ${message}`),
    });
    worker.start();
    for (let waited = 0; !gateReached; waited += 50) {
      assert.ok(waited < 30_000, `the gate step started\n${serviceLog.join('\n')}`);
      await delay(50);
    }
    await delay(200); // the first log line reaches the store before the cut

    await proxy.cut();
    releaseGate();
    await delay(3_000); // the step ends, the engine writes its result and logs while the store is away
    await proxy.open();

    let run = await store.getRun('outage-1');
    for (let waited = 0; run?.status !== 'succeeded' && run?.status !== 'failed'; waited += 100) {
      assert.ok(
        waited < 40_000,
        `the run finished after the store came back: ${run?.status}\n${serviceLog.join('\n')}`,
      );
      await delay(100);
      run = await store.getRun('outage-1');
    }
    assert.equal(run.status, 'succeeded', `${JSON.stringify(run.error)}\n${serviceLog.join('\n')}`);
    assert.equal(run.attempt, 1);
    assert.equal(executions, 1, 'the step executed once');
    // The claim loop says at most once that the store is away (a claim that waits out the whole
    // outage in its connection retries says nothing), and says it is back as often as it said so.
    const count = (prefix: string) => serviceLog.filter((line) => line.startsWith(prefix)).length;
    const failures = count('error claiming a run failed');
    // The run may end before the claim loop's next try (it waits a second after a failure).
    for (
      let waited = 0;
      failures > count('info claiming works again after') && waited < 10_000;
      waited += 100
    )
      await delay(100);
    const recoveries = count('info claiming works again after');
    assert.ok(failures <= 1, serviceLog.join('\n'));
    assert.equal(recoveries, failures, serviceLog.join('\n'));
    const attempts = await store.listStepAttempts('outage-1');
    assert.deepEqual(
      attempts.map((attempt) => [attempt.stepId, attempt.attempt, attempt.status]),
      [
        ['numbers', 1, 'succeeded'],
        ['gate', 1, 'succeeded'],
        ['total', 1, 'succeeded'],
      ],
    );

    const stored = (await store.listLogs('outage-1', { limit: 1000 })).map((entry) => entry.message);
    const fallbackFile = join(project.dir, '.pipewright', 'logs', 'outage-1.fallback.log');
    const fallback = existsSync(fallbackFile)
      ? (await readFile(fallbackFile, 'utf8'))
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { message: string }).message)
      : [];
    const kept = [...stored, ...fallback];
    assert.ok(
      kept.some((message) => message.startsWith('the state store cannot be reached')),
      `the run noticed the outage\n${kept.join('\n')}`,
    );
    assert.ok(kept.some((message) => /^the state store answers again after /.test(message)));
    for (const message of ['gate: before the outage', 'gate: released while the store is away']) {
      assert.ok(
        kept.includes(message),
        `'${message}' kept\nstore: ${stored.join(' | ')}\nfallback: ${fallback.join(' | ')}`,
      );
    }
  });
});
