/**
 * `batch.unpack` through the step harness: payload files in a folder are unpacked byte for byte and
 * removed; a refused payload fails the step with PW_BATCH_INVALID and stays; no match is zero batches;
 * `batch.pack` builds a payload from artifacts that `batch.unpack` restores byte for byte.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PwError } from '../../core/errors/pw-error.js';
import { payloadChunks } from '../../connectors/batch/build-payload.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { batchPackStep } from './batch-pack.js';
import { batchUnpackStep } from './batch-unpack.js';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(64, 1),
]);

let harness: StepHarness;
before(async () => (harness = await createStepHarness()));
after(() => harness.close());

async function payload(files: { name: string; data: Buffer }[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const described = files.map((file) => ({ ...file, bytes: file.data.length }));
  for await (const chunk of payloadChunks(described, { sourceFolder: '/x', now: new Date() }))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('unpacks every matching payload into the folder and removes the payloads', async () => {
  const a = { name: 'a.csv', data: Buffer.from('x,y\n1,2\n') };
  const b = { name: 'b.json', data: Buffer.from('{"ok": true}') };
  await harness.writeFile('repo/incoming/one.batch.json', await payload([a]));
  await harness.writeFile('repo/incoming/two.batch.json', await payload([b]));
  const result = await harness.runStep(batchUnpackStep, {
    path: 'repo/incoming/*.batch.json',
    to: 'storage',
  });
  assert.equal(result.rows, 2);
  assert.equal(result.outputs?.batches, 2);
  const stored = readdirSync(join(harness.projectDir, 'storage'));
  for (const file of [a, b]) {
    const name = stored.find((entry) => entry.endsWith(`_${file.name}`));
    assert.ok(name, stored.join(', '));
    assert.deepEqual(readFileSync(join(harness.projectDir, 'storage', name)), file.data);
  }
  assert.deepEqual(readdirSync(join(harness.projectDir, 'repo', 'incoming')), []);
});

test('a refused payload fails the step and is kept; nothing matching is zero batches', async () => {
  const bad = JSON.stringify({ batch_metadata: {}, files: { 'x.exe': { content: 'AAAA' } } });
  const path = await harness.writeFile('repo/bad/evil.batch.json', bad);
  await assert.rejects(
    harness.runStep(batchUnpackStep, { path: 'repo/bad/*.batch.json', to: 'storage2' }),
    (error: unknown) =>
      error instanceof PwError &&
      error.code === 'PW_BATCH_INVALID' &&
      /repo\/bad\/evil\.batch\.json/.test(error.message),
  );
  assert.ok(existsSync(path));
  assert.deepEqual(
    readdirSync(join(harness.projectDir, 'storage2')).filter((name) => !name.startsWith('.')),
    [],
  );
  const none = await harness.runStep(batchUnpackStep, { path: 'repo/none/*.batch.json', to: 'storage3' });
  assert.equal(none.outputs?.batches, 0);
});

test('batch.pack packs artifacts into a payload that batch.unpack restores byte for byte', async () => {
  const chart = await harness.writeFile('.pipewright/artifacts/test-run/chart/plot.png', PNG);
  const csv = await harness.writeFile(
    '.pipewright/artifacts/test-run/export/daily.csv',
    'd,n\n2026-01-01,3\n',
  );
  harness.artifacts.push(
    { name: 'plot.png', path: chart, bytes: PNG.length, stepId: 'chart' },
    { name: 'daily.csv', path: csv, bytes: 17, stepId: 'export' },
  );
  const packed = await harness.runStep(
    batchPackStep,
    { name: 'out.batch.json', batch_name: 'weekly' },
    { stepId: 'pack' },
  );
  assert.equal(packed.rows, 2);
  const payloadArtifact = harness.artifacts.find((artifact) => artifact.name === 'out.batch.json');
  assert.ok(payloadArtifact);
  const relativePath = payloadArtifact.path.slice(harness.projectDir.length + 1);
  await harness.runStep(batchUnpackStep, { path: relativePath, to: 'restored' });
  const restored = readdirSync(join(harness.projectDir, 'restored'));
  const find = (name: string) =>
    join(harness.projectDir, 'restored', restored.find((entry) => entry.endsWith(`_${name}`)) ?? '');
  assert.deepEqual(readFileSync(find('plot.png')), PNG);
  assert.deepEqual(readFileSync(find('daily.csv')), readFileSync(csv));
});
