/**
 * A temporary project for worker tests: a real SQLite store and a stored pipeline `p` whose middle
 * step is a test step (numbers → <middle> → total), so tests can hold, fail or cancel a run there.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyStepDefinition } from '../core/step.js';
import { pipelineSchema } from '../core/spec/pipeline-schema.js';
import { projectSchema } from '../core/spec/project-schema.js';
import { definitionHash } from '../core/spec/revision-hash.js';
import type { Project } from '../project/load-project.js';
import { StepRegistry } from '../steps/registry.js';
import { sqlStep } from '../steps/transform/sql.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { StateStore } from '../store/state-store.js';

export interface WorkerProject {
  root: string;
  store: StateStore;
  project: Project;
  dispose(): Promise<void>;
}

export async function createWorkerProject(middle: {
  id: string;
  step: AnyStepDefinition;
}): Promise<WorkerProject> {
  const root = await mkdtemp(join(tmpdir(), 'pw-worker-'));
  await mkdir(join(root, 'project'), { recursive: true });
  const store = await openSqliteStore(join(root, 'state.db'));
  const project: Project = {
    dir: join(root, 'project'),
    file: join(root, 'project', 'pipewright.yaml'),
    spec: projectSchema.parse({ duckdb: { memory_limit: '256MB', threads: 1 } }),
    registry: new StepRegistry([sqlStep, middle.step]),
  };
  const spec = pipelineSchema.parse({
    id: 'p',
    steps: [
      { id: 'numbers', uses: 'sql', with: { query: 'SELECT range AS n FROM range(10)' } },
      { id: middle.id, uses: middle.step.type, needs: ['numbers'] },
      {
        id: 'total',
        uses: 'sql',
        needs: [middle.id],
        with: { query: 'SELECT sum(n) AS total FROM numbers' },
      },
    ],
  });
  await store.savePipelineRevision({
    pipelineId: 'p',
    hash: definitionHash(spec),
    definition: spec,
    sourcePath: 'pipelines/p.yaml',
    at: new Date(),
  });
  return {
    root,
    store,
    project,
    async dispose() {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
