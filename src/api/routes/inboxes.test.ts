/**
 * POST /api/inboxes/:inbox/batches over a real socket (startApiServer on port 0, fetch and node:http):
 * tokens and scopes, unknown inbox, the size limit (declared and streamed), a refused payload kept in
 * .rejected/ and recorded, an accepted one stored byte for byte, recorded, its pipeline queued with the
 * batch as trigger data; nothing is ever written outside the inbox's storage folder.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createProject } from '../../cli/commands/init.js';
import { payloadChunks } from '../../connectors/batch/build-payload.js';
import { triggerData } from '../../engine/trigger-data.js';
import { loadProject } from '../../project/load-project.js';
import { openStateStore } from '../../store/open-store.js';
import type { StateStore } from '../../store/state-store.js';
import { startApiServer, type ApiServer } from '../server.js';
import { hashApiToken, newApiToken } from '../tokens.js';

const scratch = mkdtempSync(join(tmpdir(), 'pw-inbox-route-'));
let server: ApiServer;
let store: StateStore;
let projectDir: string;
const tokens: Record<'read' | 'operate', string> = { read: newApiToken(), operate: newApiToken() };
const url = (inbox = 'health') => `${server.url}/api/inboxes/${inbox}/batches`;
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(100, 3),
]);

async function payload(files: { name: string; data: Buffer }[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const described = files.map((file) => ({ ...file, bytes: file.data.length }));
  for await (const chunk of payloadChunks(described, { sourceFolder: '/src', now: new Date() }))
    chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function post(body: Buffer | string, token: string | null = tokens.operate, inbox = 'health') {
  const response = await fetch(url(inbox), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** Every file under the project outside the inbox folder and the state store, as relative paths. */
function outsideInbox(): string[] {
  return (readdirSync(projectDir, { recursive: true }) as string[])
    .filter((path) => !path.startsWith('_storage') && !path.startsWith('.pipewright'))
    .sort();
}

before(async () => {
  projectDir = await createProject(join(scratch, 'project'));
  appendFileSync(
    join(projectDir, 'pipewright.yaml'),
    '\ninboxes:\n  health:\n    storage: _storage\n    max_payload_mb: 0.05\n    pipeline: sensor-documents\n',
  );
  const project = await loadProject(projectDir);
  store = await openStateStore(project.spec.state, project.dir);
  for (const scope of ['read', 'operate'] as const) {
    await store.createApiToken({ name: scope, scope, hash: hashApiToken(tokens[scope]), at: new Date() });
  }
  server = await startApiServer({
    host: '127.0.0.1',
    port: 0,
    store,
    project,
    pipelines: () => [],
    version: 'test',
  });
});

after(async () => {
  await server.close();
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('POST /api/inboxes/:inbox/batches', () => {
  test('a missing, wrong or read-only token is refused before the body is read', async () => {
    const body = await payload([{ name: 'a.txt', data: Buffer.from('a') }]);
    const before = outsideInbox();
    for (const [token, status, code] of [
      [null, 401, 'PW_AUTH_REQUIRED'],
      ['pw_wrong', 401, 'PW_AUTH_REQUIRED'],
      [tokens.read, 403, 'PW_AUTH_FORBIDDEN'],
    ] as const) {
      const answer = await post(body, token);
      assert.equal(answer.status, status);
      assert.equal(answer.json.code, code);
    }
    assert.equal(existsSync(join(projectDir, '_storage')), false, 'nothing stored');
    assert.deepEqual(outsideInbox(), before);
  });

  test('an unknown inbox is 404 naming the declared ones', async () => {
    const answer = await post('{}', tokens.operate, 'nope');
    assert.equal(answer.status, 404);
    assert.equal(answer.json.code, 'PW_INBOX_NOT_FOUND');
    assert.match(String(answer.json.hint), /health/);
  });

  test('a body over the limit is 413, declared or streamed, and leaves no file', async () => {
    const big = await payload([{ name: 'big.txt', data: Buffer.alloc(60_000, 97) }]);
    const declared = await post(big);
    assert.equal(declared.status, 413);
    assert.equal(declared.json.code, 'PW_REQUEST_TOO_LARGE');
    assert.match(String(declared.json.detail), /inbox 'health'.s limit of 0.05 MB/);

    // Chunked: no Content-Length, so the limit is found while storing.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(
        url(),
        {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens.operate}`, 'content-type': 'application/json' },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      for (let at = 0; at < big.length; at += 4096) request.write(big.subarray(at, at + 4096));
      request.end();
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.body, /PW_REQUEST_TOO_LARGE/);
    const incoming = join(projectDir, '_storage', '.incoming');
    assert.deepEqual(existsSync(incoming) ? readdirSync(incoming) : [], [], 'no partial payload left');
  });

  test('a refused payload is 400, kept in .rejected/ and recorded; nothing reaches storage', async () => {
    const body = JSON.stringify({
      batch_metadata: { total_files: 1 },
      files: { '../../evil.json': { content: Buffer.from('{}').toString('base64') } },
    });
    const answer = await post(body);
    assert.equal(answer.status, 400);
    assert.equal(answer.json.code, 'PW_BATCH_INVALID');
    assert.match(String(answer.json.detail), /files\["..\/..\/evil.json"\]: the name contains '..'/);
    const storage = join(projectDir, '_storage');
    const visible = readdirSync(storage).filter((name) => !name.startsWith('.'));
    assert.deepEqual(visible, []);
    const rejected = readdirSync(join(storage, '.rejected'));
    assert.equal(rejected.length, 1);
    assert.equal(readFileSync(join(storage, '.rejected', rejected[0] ?? ''), 'utf8'), body);
    const record = await store.getInboxBatch((rejected[0] ?? '').replace(/\.json$/, ''));
    assert.equal(record?.status, 'rejected');
    assert.match(record?.error ?? '', /the name contains '..'/);
    assert.equal(existsSync(join(scratch, 'evil.json')) || existsSync(join(projectDir, 'evil.json')), false);
  });

  test('an accepted batch is stored byte for byte, recorded and queues the pipeline with trigger.batch', async () => {
    const files = [
      { name: 'readings.json', data: Buffer.from('[{"t": 21.5}]') },
      { name: 'plot.png', data: PNG },
      { name: 'notes.txt', data: Buffer.from('ok\n') },
    ];
    const answer = await post(await payload(files));
    assert.equal(answer.status, 201, JSON.stringify(answer.json));
    const body = answer.json as {
      id: string;
      files_accepted: number;
      files: { filename: string; stored_as: string }[];
      run_id: string | null;
      summary: string;
    };
    assert.equal(body.files_accepted, 3);
    for (const file of files) {
      const stored = body.files.find((entry) => entry.filename === file.name);
      assert.ok(stored);
      assert.match(stored.stored_as, new RegExp(`^\\d{8}-\\d{6}(-\\d+)?_${file.name.replace('.', '\\.')}$`));
      assert.deepEqual(readFileSync(join(projectDir, '_storage', stored.stored_as)), file.data);
    }
    assert.ok(existsSync(join(projectDir, body.summary)));
    assert.deepEqual(
      readdirSync(join(projectDir, '_storage', '.incoming')),
      [],
      'raw payload removed once stored',
    );

    const record = await store.getInboxBatch(body.id);
    assert.equal(record?.status, 'stored');
    assert.equal(record?.files.length, 3);
    assert.ok(body.run_id);
    assert.equal(record?.runId, body.run_id);
    const run = await store.getRun(body.run_id);
    assert.equal(run?.status, 'queued');
    assert.equal(run?.trigger, `batch:health/${body.id}`);
    const project = await loadProject(projectDir);
    const trigger = (await triggerData(run?.trigger ?? '', store, project.spec, projectDir)) as {
      batch: { folder: string; files: { name: string; path: string }[] };
    };
    assert.equal(trigger.batch.folder, join(projectDir, '_storage'));
    assert.deepEqual(
      trigger.batch.files.map((file) => readFileSync(file.path)),
      files.map((file) => file.data),
    );
  });
});
