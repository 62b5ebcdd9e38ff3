/**
 * Where a run keeps its files: a private workspace (the run's DuckDB file and spill space), kept or
 * removed after the run per `workspace.keep`, and an artifacts folder kept per `artifacts.keep_days`.
 */
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ProjectSpec } from '../core/spec/project-schema.js';
import type { StateStore } from '../store/state-store.js';

export interface RunPaths {
  workspaceDir: string;
  databaseFile: string;
  artifactsDir: string;
  fallbackLogFile: string;
}

export function runPaths(projectDir: string, project: ProjectSpec, runId: string): RunPaths {
  const workspaceDir = resolve(projectDir, project.workspace.dir, runId);
  return {
    workspaceDir,
    databaseFile: join(workspaceDir, 'run.duckdb'),
    artifactsDir: resolve(projectDir, project.artifacts.dir, runId),
    fallbackLogFile: resolve(projectDir, '.pipewright', 'logs', `${runId}.fallback.log`),
  };
}

export function shouldKeepWorkspace(keep: ProjectSpec['workspace']['keep'], succeeded: boolean): boolean {
  return keep === 'always' || (keep === 'on_failure' && !succeeded);
}

export async function removeWorkspace(paths: RunPaths): Promise<void> {
  await rm(paths.workspaceDir, { recursive: true, force: true });
}

/**
 * Deletes artifact files of runs older than `keep_days` and marks them deleted in the store; the
 * records stay so the history still says what existed.
 */
export async function applyArtifactRetention(
  store: StateStore,
  projectDir: string,
  project: ProjectSpec,
  now: Date,
): Promise<number> {
  if (project.artifacts.keep_days === 0) return 0;
  const before = new Date(now.getTime() - project.artifacts.keep_days * 86_400_000);
  const expired = await store.listExpiredArtifacts(before);
  let removed = 0;
  for (const artifact of expired) {
    if (artifact.id === undefined) continue;
    // Only files inside the artifacts folder are ours to delete; outputs written elsewhere are the user's.
    const artifactsRoot = resolve(projectDir, project.artifacts.dir) + '/';
    if (resolve(artifact.path).startsWith(artifactsRoot)) await rm(artifact.path, { force: true });
    await store.markArtifactDeleted(artifact.id, now);
    removed += 1;
  }
  return removed;
}
