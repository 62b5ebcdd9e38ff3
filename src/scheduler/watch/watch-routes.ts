/**
 * Watch routes (`watch:` in pipewright.yaml): a watched folder with a routing table, the project-level
 * form of a pipeline's `triggers: [{ watch }]`, like the import-configuration tables users keep
 * (file-name pattern → pipeline, target table, sheet). Here the table is resolved against the
 * project's pipelines: each route's pipeline must exist and its params must pass that pipeline's
 * declarations exactly as a manual run's would. The problems are what `pipewright validate` reports
 * (file:line in pipewright.yaml) and what the watcher logs while the files a broken route takes wait.
 *
 * Decisions: routes are tried in order and the first match wins; a folder with routes belongs to them,
 * so a pipeline's own watch trigger on the same folder is an error (and ignored by the service); two
 * `watch:` entries for one folder are refused when the project loads (load-project.ts).
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseDuration } from '../../core/duration.js';
import type { SpecIssue } from '../../core/errors/pw-error.js';
import { ParamError, resolveParams, type ParamValue } from '../../core/params.js';
import { didYouMeanHint } from '../../core/spec/hints.js';
import type { Locate } from '../../core/spec/parse-yaml.js';
import { formatPath, type FieldPath } from '../../core/spec/paths.js';
import type { PipelineSpec } from '../../core/spec/pipeline-schema.js';
import type { WatchFolderSpec } from '../../core/spec/project-schema.js';
import { oneLineReason } from '../definitions.js';
import { isIgnoredName } from './watch-names.js';

const PROJECT_FILE = 'pipewright.yaml';

/** A pipeline as the routes see it: without `spec` its file is invalid (its own errors say why). */
export interface RoutePipeline {
  id: string;
  /** The pipeline file relative to the project, for messages. */
  file?: string | undefined;
  spec?: PipelineSpec | undefined;
}

export interface RouteTableInput {
  projectDir: string;
  folders: readonly WatchFolderSpec[];
  /** Lines and columns in pipewright.yaml; without it messages name the field only. */
  locate?: Locate | undefined;
}

export interface ResolvedRoute {
  /** `watch[0].routes[1]`: how messages name the route. */
  name: string;
  /** The watched folder, absolute. */
  dir: string;
  pattern: RegExp;
  pipelineId: string;
  stableForMs: number;
  pollMs: number;
  /** The run parameters, converted to the declared types; undefined when the route cannot be used. */
  params: Record<string, ParamValue> | undefined;
  /** Why the route cannot be used now (one line, with file:line); its files wait in the folder. */
  problem: string | undefined;
}

export interface RouteTable {
  routes: ResolvedRoute[];
  /** The folders that have routes, absolute. */
  dirs: Set<string>;
  /** Every problem, in file order, for `pipewright validate`. */
  issues: SpecIssue[];
}

export function watchDir(projectDir: string, dir: string): string {
  return isAbsolute(dir) ? dir : resolve(projectDir, dir);
}

export function resolveWatchRoutes(input: RouteTableInput, pipelines: readonly RoutePipeline[]): RouteTable {
  const locate = input.locate ?? (() => ({}));
  const issue = (
    code: SpecIssue['code'],
    path: FieldPath,
    message: string,
    extra: Pick<SpecIssue, 'expected' | 'found' | 'hint'> = {},
  ): SpecIssue => ({
    code,
    message,
    location: { file: PROJECT_FILE, ...locate(path) },
    path: formatPath(path),
    ...extra,
  });
  const byId = new Map(pipelines.map((pipeline) => [pipeline.id, pipeline]));
  const routes: ResolvedRoute[] = [];
  const dirs = new Set<string>();
  const issues: SpecIssue[] = [];
  input.folders.forEach((folder, folderIndex) => {
    const dir = watchDir(input.projectDir, folder.dir);
    // A repeated folder is refused when the project loads; a project built in code keeps the first.
    if (dirs.has(dir)) return;
    dirs.add(dir);
    const shown = relative(input.projectDir, dir) || '.';
    for (const pipeline of pipelines) {
      (pipeline.spec?.triggers ?? []).forEach((trigger, triggerIndex) => {
        if (watchDir(input.projectDir, trigger.watch.dir) !== dir) return;
        issues.push(
          issue(
            'PW_SPEC_INVALID',
            ['watch', folderIndex, 'dir'],
            `${shown} has routes here and is also watched by ${pipeline.file ?? pipeline.id} (triggers[${triggerIndex}].watch); the service ignores that trigger`,
            {
              expected: 'a folder watched either by routes or by pipeline triggers',
              hint: `Move the trigger into a route of watch[${folderIndex}]: { pattern: '${trigger.watch.pattern}', pipeline: ${pipeline.id} }.`,
            },
          ),
        );
      });
    }
    folder.routes.forEach((route, index) => {
      const name = `watch[${folderIndex}].routes[${index}]`;
      const at: FieldPath = ['watch', folderIndex, 'routes', index];
      const pipeline = byId.get(route.pipeline);
      let params: Record<string, ParamValue> | undefined;
      let found: SpecIssue | undefined;
      let problem: string | undefined;
      if (pipeline === undefined) {
        found = issue(
          'PW_PIPELINE_NOT_FOUND',
          [...at, 'pipeline'],
          `${name} routes to pipeline '${route.pipeline}', which does not exist`,
          {
            expected: 'the id of a pipeline in the pipelines folder',
            found: `'${route.pipeline}'`,
            hint:
              didYouMeanHint(route.pipeline, byId.keys()) ??
              'A pipeline is a file pipelines/<id>.yaml; `pipewright validate` lists them.',
          },
        );
      } else if (pipeline.spec === undefined) {
        // The pipeline's own problems are reported with its file; here only the effect.
        problem = `${name}: pipeline '${route.pipeline}' is invalid (see pipewright validate)`;
      } else {
        try {
          params = resolveParams(pipeline.spec.params, route.params);
        } catch (error) {
          if (!(error instanceof ParamError)) throw error;
          const field = error.problems[0]?.field;
          const path =
            field !== undefined && Object.hasOwn(route.params, field)
              ? [...at, 'params', field]
              : [...at, 'params'];
          found = issue(
            'PW_PARAM_INVALID',
            path,
            `${name} gives pipeline '${route.pipeline}' invalid params: ${error.problems
              .map((item) => (item.field === '' ? item.message : `${item.field}: ${item.message}`))
              .join('; ')}`,
            {
              expected: `params declared by ${pipeline.file ?? route.pipeline}`,
              hint: `Give each required parameter of '${route.pipeline}' in params, with values of the declared types.`,
            },
          );
        }
      }
      if (found) {
        issues.push(found);
        problem = oneLineReason([found]);
      }
      routes.push({
        name,
        dir,
        pattern: new RegExp(route.pattern),
        pipelineId: route.pipeline,
        stableForMs: parseDuration(folder.stable_for) ?? 5000,
        pollMs: parseDuration(folder.poll) ?? 1000,
        params: problem === undefined ? params : undefined,
        problem,
      });
    });
  });
  issues.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0));
  return { routes, dirs, issues };
}

/** The first route whose pattern matches the name (first match wins), if any. */
export function routeFor<T extends { pattern: RegExp }>(routes: readonly T[], name: string): T | undefined {
  return routes.find((route) => route.pattern.test(name));
}

export interface UnmatchedFile {
  /** The watched folder, absolute. */
  dir: string;
  name: string;
  size: number;
  mtime: Date;
  /** Which routing table it matched nothing of: `watch[0]`. */
  table: string;
}

/**
 * Files in routed folders that match no route: they stay where they are, so they are found by looking
 * (the API's activity list shows them). Newest first, at most `limit`.
 */
export async function unmatchedFiles(
  projectDir: string,
  folders: readonly WatchFolderSpec[],
  limit: number,
): Promise<UnmatchedFile[]> {
  const found: UnmatchedFile[] = [];
  const seen = new Set<string>();
  for (const [index, folder] of folders.entries()) {
    const dir = watchDir(projectDir, folder.dir);
    if (seen.has(dir)) continue;
    seen.add(dir);
    const patterns = folder.routes.map((route) => new RegExp(route.pattern));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue; // a folder not there yet holds nothing
    }
    for (const entry of entries) {
      if (!entry.isFile() || isIgnoredName(entry.name)) continue;
      if (patterns.some((pattern) => pattern.test(entry.name))) continue;
      const info = await stat(join(dir, entry.name)).catch(() => undefined);
      if (!info) continue;
      found.push({ dir, name: entry.name, size: info.size, mtime: info.mtime, table: `watch[${index}]` });
    }
  }
  found.sort((a, b) => b.mtime.getTime() - a.mtime.getTime() || a.name.localeCompare(b.name));
  return found.slice(0, limit);
}
