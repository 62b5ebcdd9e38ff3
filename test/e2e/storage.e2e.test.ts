/**
 * End to end through the real CLI against an S3-compatible server (s3rver) on 127.0.0.1: a CSV read
 * into a dataset, written as Parquet straight to a date-partitioned key, listed and downloaded again;
 * and a pipeline whose bucket does not exist fails with PW_STORAGE_BUCKET and leaves no object.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  startS3Server,
  S3RVER_KEY,
  S3RVER_SECRET,
  type TestS3Server,
} from '../../src/connectors/storage/test-s3-server.js';
import {
  assertExit,
  assertNoStackTrace,
  duckQuery,
  listRuns,
  makeProject,
  removeDir,
  runCli,
  showRun,
  sqlString,
} from './cli-harness.js';

let server: TestS3Server;
const projects: string[] = [];

before(async () => {
  server = await startS3Server(['e2e-bucket']);
});
after(async () => {
  for (const dir of projects) await removeDir(dir);
  await server?.close();
});

function projectFile(bucket: string): string {
  return `name: e2e
timezone: UTC
connections:
  bucket:
    type: s3
    bucket: ${bucket}
    endpoint: ${server.endpoint}
    force_path_style: true
    access_key_id: "\${env:E2E_S3_KEY}"
    secret_access_key: "\${env:E2E_S3_SECRET}"
`;
}

const PIPELINE = `id: archive
steps:
  - id: events
    uses: files.read
    with: { path: data/events.csv }
  - id: upload
    uses: storage.put
    with:
      connection: bucket
      input: events
      key: "logs/year={{ run.scheduled_for | date: 'yyyy' }}/month={{ run.scheduled_for | date: 'MM' }}/day={{ run.scheduled_for | date: 'dd' }}/data-{{ run.id }}.parquet"
  - id: objects
    uses: storage.list
    needs: [upload]
    with: { connection: bucket, prefix: logs/ }
  - id: listing
    uses: files.write
    with: { input: objects, path: out/objects.csv }
  - id: back
    uses: storage.get
    needs: [upload]
    with: { connection: bucket, prefix: logs/, dir: downloaded }
`;

const CSV = 'id,name,amount\n1,Ada,10.5\n2,"Doe, Jane",-3\n3,Zoë,0\n';
const ENV = { E2E_S3_KEY: S3RVER_KEY, E2E_S3_SECRET: S3RVER_SECRET };

describe('object storage end to end', () => {
  test('dataset → Parquet → S3 key with date partitions, listed and downloaded again', async () => {
    const dir = await makeProject('storage-e2e', {
      'pipewright.yaml': projectFile('e2e-bucket'),
      'pipelines/archive.yaml': PIPELINE,
      'data/events.csv': CSV,
    });
    projects.push(dir);
    const result = await runCli(['run', 'archive'], { cwd: dir, env: ENV });
    assertExit(result, 0, 'run archive');
    const [run] = await listRuns(dir);
    assert.ok(run);
    const when = new Date(run.scheduled_for);
    const pad = (n: number) => String(n).padStart(2, '0');
    const key = `logs/year=${when.getUTCFullYear()}/month=${pad(when.getUTCMonth() + 1)}/day=${pad(when.getUTCDate())}/data-${run.id}.parquet`;

    const listing = await readFile(join(dir, 'out', 'objects.csv'), 'utf8');
    assert.equal(listing.split('\n')[1]?.split(',')[0], key);
    const show = await showRun(dir, run.id);
    const upload = show.steps.find((step) => step.step === 'upload');
    assert.equal(upload?.outputs.key, key);
    assert.equal(upload?.rows, 3);

    const file = join(dir, 'downloaded', key.slice('logs/'.length));
    const rows = await duckQuery(`SELECT id, name, amount FROM read_parquet(${sqlString(file)}) ORDER BY id`);
    assert.deepEqual(
      rows.map((row) => [row.id, row.name]),
      [
        [1, 'Ada'],
        [2, 'Doe, Jane'],
        [3, 'Zoë'],
      ],
    );
  });

  test('a bucket that does not exist fails the run with PW_STORAGE_BUCKET, no stack trace', async () => {
    const dir = await makeProject('storage-e2e-missing', {
      'pipewright.yaml': projectFile('no-such-bucket'),
      'pipelines/archive.yaml': PIPELINE,
      'data/events.csv': CSV,
    });
    projects.push(dir);
    const result = await runCli(['run', 'archive'], { cwd: dir, env: ENV });
    assertExit(result, 1, 'run archive (missing bucket)');
    assertNoStackTrace(result, 'run archive (missing bucket)');
    assert.match(result.stderr + result.stdout, /PW_STORAGE_BUCKET/);
    const [run] = await listRuns(dir);
    assert.equal(run?.error?.code, 'PW_STORAGE_BUCKET');
    assert.equal(run?.error?.step, 'upload');
  });
});
