/**
 * MongoDB steps through the CLI without a MongoDB server (none can run here; the opt-in suite
 * src/connectors/mongodb/mongodb.test.ts needs MONGODB_TEST_URL): a pipeline whose filter is a YAML
 * mapping of Extended JSON with a date relative to the run's slot validates and renders; a date the
 * template got wrong fails before connecting; a closed port gives PW_DB_UNREACHABLE from `run` and from
 * `connections test`, and the URL's password appears in no output.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  assertExit,
  assertNoStackTrace,
  makeProject,
  parseJson,
  removeDir,
  runCli,
  type RunJson,
} from './cli-harness.js';

const PASSWORD = 'e2e-Mongo-Secret-2290';
const projects: string[] = [];
after(async () => {
  for (const dir of projects) await removeDir(dir);
});

async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
  await new Promise((done) => server.close(done));
  return port;
}

describe('MongoDB steps end to end (no server)', () => {
  test('validate, a bad templated date, an unreachable server: clear codes, no password anywhere', async () => {
    const port = await closedPort();
    const dir = await makeProject('mongodb-e2e', {
      'pipewright.yaml': `name: e2e
timezone: UTC
connections:
  events: { type: mongodb, url: "\${env:EVENTS_URL}", connect_timeout: 700ms }
`,
      'pipelines/weekly.yaml': `id: weekly
steps:
  - id: readings
    uses: mongodb.find
    with:
      connection: events
      collection: readings
      filter:
        at: { $gte: { $date: "{{ run.scheduled_for | date_add: '-7d' | iso }}" } }
        sensor: { $in: [s1, s2] }
      projection: '{ "_id": 0, "sensor": 1, "value": 1, "at": 1 }'
  - id: per_sensor
    uses: mongodb.aggregate
    with:
      connection: events
      collection: readings
      pipeline:
        - $group: { _id: $sensor, total: { $sum: $value } }
`,
      'pipelines/broken.yaml': `id: broken
steps:
  - id: readings
    uses: mongodb.find
    with:
      connection: events
      collection: readings
      filter: { at: { $gte: { $date: "{{ run.scheduled_for | date: 'dd.MM.yyyy' }}" } } }
`,
    });
    projects.push(dir);
    const env = { EVENTS_URL: `mongodb://etl:${PASSWORD}@127.0.0.1:${port}/plant` };
    const validate = await runCli(['validate'], { cwd: dir, env });
    assertExit(validate, 0, 'validate');

    const broken = await runCli(['run', 'broken', '--json'], { cwd: dir, env });
    assertExit(broken, 1, 'the run with a bad date');
    assertNoStackTrace(broken, 'the run with a bad date');
    const brokenJson = parseJson<RunJson>(broken, 'run --json');
    assert.equal(brokenJson.error?.code, 'PW_SPEC_TYPE');
    assert.match(
      brokenJson.error?.message ?? '',
      /with\.filter\.at\.\$gte is a \$date that is not a valid date/,
    );

    const unreachable = await runCli(['run', 'weekly', '--json'], { cwd: dir, env });
    assertExit(unreachable, 1, 'the run against a closed port');
    const runJson = parseJson<RunJson>(unreachable, 'run --json');
    assert.equal(runJson.error?.code, 'PW_DB_UNREACHABLE');
    assert.match(
      runJson.error?.message ?? '',
      new RegExp(
        `^Step '(readings|per_sensor)', connection 'events' \\(mongodb, etl@127\\.0\\.0\\.1:${port}/plant\\): connecting failed`,
      ),
    );

    const check = await runCli(['connections', 'test', '--json'], { cwd: dir, env });
    assertExit(check, 1, 'connections test');
    const checkJson = parseJson<{
      ok: boolean;
      connections: { name: string; status: string; code: string }[];
    }>(check, 'connections test --json');
    assert.deepEqual(
      checkJson.connections.map((connection) => [connection.name, connection.status, connection.code]),
      [['events', 'failed', 'PW_DB_UNREACHABLE']],
    );
    for (const result of [validate, broken, unreachable, check]) {
      assert.doesNotMatch(result.stdout + result.stderr, new RegExp(PASSWORD));
    }
  });
});
