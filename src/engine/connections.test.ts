import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PwError } from '../core/errors/pw-error.js';
import { defineStep } from '../core/step.js';
import { createStepHarness, type StepHarness } from '../testing/step-harness.js';

/** Returns the connection it was asked for as its outputs, and logs its password. */
const connectionProbe = defineStep({
  type: 'test.connection',
  kind: 'custom',
  description: 'Looks up a connection.',
  config: z.strictObject({ name: z.string(), types: z.array(z.string()).optional() }),
  producesDataset: false,
  run(ctx, config) {
    const connection = ctx.connection(config.name, config.types);
    ctx.log.info(`password is ${String(connection.password)}`);
    return Promise.resolve({ outputs: { ...connection } });
  },
});

/** Registers one file as an artifact, then reports what the run's artifact list holds. */
const artifactProbe = defineStep({
  type: 'test.artifacts',
  kind: 'custom',
  description: 'Registers an artifact and lists them.',
  config: z.strictObject({ file: z.string() }),
  producesDataset: false,
  async run(ctx, config) {
    const path = join(ctx.projectDir, config.file);
    await writeFile(path, `made by ${ctx.stepId}\n`);
    await ctx.artifacts.register(path, { contentType: 'text/plain' });
    const listed = await ctx.artifacts.list();
    return { outputs: { listed: listed.map((artifact) => `${artifact.stepId}/${artifact.name}`) } };
  },
});

describe('ctx.connection', () => {
  let harness: StepHarness;
  before(async () => {
    harness = await createStepHarness({
      connections: {
        warehouse: {
          type: 'postgres',
          url: 'postgres://app@db/sales',
          password: '${env:WAREHOUSE_PASSWORD}',
        },
        mail: { type: 'smtp', host: 'smtp.example.org' },
      },
      env: { WAREHOUSE_PASSWORD: 'hunter2-long-secret' },
    });
  });
  after(() => harness.close());

  it('returns the named connection with its secrets resolved, and masks them from then on', async () => {
    const result = await harness.runStep(connectionProbe, {
      name: 'warehouse',
      types: ['postgres', 'mariadb'],
    });
    assert.deepEqual(result.outputs, {
      type: 'postgres',
      url: 'postgres://app@db/sales',
      password: 'hunter2-long-secret',
    });
    assert.equal(harness.redactor.redact('password is hunter2-long-secret'), 'password is [redacted]');
  });

  it('an unknown name fails with the names defined and a did-you-mean', async () => {
    await assert.rejects(harness.runStep(connectionProbe, { name: 'warehose' }), (error: unknown) => {
      assert.ok(error instanceof PwError);
      assert.equal(error.code, 'PW_CONNECTION_UNKNOWN');
      assert.equal(error.path, 'connections.warehose');
      assert.equal(error.expected, "one of 'warehouse' or 'mail'");
      assert.match(error.hint ?? '', /Did you mean 'warehouse'\?/);
      return true;
    });
  });

  it('a connection of the wrong type is refused before its secrets are read', async () => {
    await assert.rejects(
      harness.runStep(connectionProbe, { name: 'mail', types: ['postgres'] }),
      (error: unknown) => {
        assert.ok(error instanceof PwError);
        assert.equal(error.code, 'PW_CONNECTION_UNKNOWN');
        assert.equal(error.path, 'connections.mail.type');
        assert.equal(error.found, "'smtp'");
        return true;
      },
    );
  });
});

describe('ctx.artifacts.list', () => {
  let harness: StepHarness;
  before(async () => {
    harness = await createStepHarness();
  });
  after(() => harness.close());

  it('lists every artifact of the run so far, each with the step that made it', async () => {
    await harness.runStep(artifactProbe, { file: 'a.txt' }, { stepId: 'first' });
    const second = await harness.runStep(artifactProbe, { file: 'b.txt' }, { stepId: 'second' });
    assert.deepEqual(second.outputs, { listed: ['first/a.txt', 'second/b.txt'] });
  });
});
