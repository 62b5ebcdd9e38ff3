/**
 * Reads a project folder: `pipewright.yaml` (validated, defaults applied) and the pipeline files
 * under `pipelines/`. Pipelines are validated against the built-in step types plus the user-written
 * step modules they reference, which are imported first.
 */
import { readFile, readdir } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { PwError, SpecError } from '../core/errors/pw-error.js';
import { projectSchema, type ProjectSpec } from '../core/spec/project-schema.js';
import { readYaml, type Locate } from '../core/spec/parse-yaml.js';
import { zodIssuesToSpecIssues } from '../core/spec/zod-issues.js';
import { didYouMean } from '../core/spec/hints.js';
import { validatePipeline, type PipelineValidation } from '../core/spec/validate.js';
import type { SpecIssue } from '../core/errors/pw-error.js';
import type { StepRegistry } from '../steps/registry.js';
import { builtinRegistry } from '../steps/builtin.js';
import { loadUserStep, moduleReferences } from './user-steps.js';

export const PROJECT_FILE = 'pipewright.yaml';

export interface Project {
  dir: string;
  file: string;
  spec: ProjectSpec;
  registry: StepRegistry;
  /** Where a field of pipewright.yaml is, for messages that cannot be given at load time (watch routes). */
  locate?: Locate;
}

export interface PipelineFile {
  id: string;
  /** Absolute path. */
  file: string;
  /** Path relative to the project folder, as shown in messages. */
  displayPath: string;
}

export async function loadProject(dir: string): Promise<Project> {
  const projectDir = resolve(dir);
  const file = join(projectDir, PROJECT_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new PwError('PW_PROJECT_NOT_FOUND', `No ${PROJECT_FILE} in ${projectDir}`, {
      hint: 'Run the command inside a project folder, pass --project <dir>, or create one with `pipewright init <dir>`.',
    });
  }
  const yaml = readYaml(text, PROJECT_FILE);
  if (yaml.issues.length > 0) throw new SpecError(yaml.issues);
  const parsed = projectSchema.safeParse(yaml.value ?? {});
  if (!parsed.success) {
    throw new SpecError(
      zodIssuesToSpecIssues(parsed.error.issues, {
        file: PROJECT_FILE,
        locate: yaml.locate,
        root: yaml.value,
        prefix: [],
        schema: projectSchema,
      }),
    );
  }
  const repeated = repeatedWatchFolders(projectDir, parsed.data, yaml.locate);
  if (repeated.length > 0) throw new SpecError(repeated);
  return {
    dir: projectDir,
    file,
    spec: Object.freeze(parsed.data),
    registry: builtinRegistry(),
    locate: yaml.locate,
  };
}

/** Two `watch:` entries for one folder: their routes belong in one table, tried in one order. */
function repeatedWatchFolders(projectDir: string, spec: ProjectSpec, locate: Locate): SpecIssue[] {
  const first = new Map<string, number>();
  const issues: SpecIssue[] = [];
  spec.watch.forEach((folder, index) => {
    const dir = resolve(projectDir, folder.dir);
    const earlier = first.get(dir);
    if (earlier === undefined) {
      first.set(dir, index);
      return;
    }
    const at = locate(['watch', earlier, 'dir']);
    issues.push({
      code: 'PW_SPEC_INVALID',
      message: `watch[${index}] watches ${folder.dir}, which watch[${earlier}] (line ${at.line}) already watches`,
      location: { file: PROJECT_FILE, ...locate(['watch', index, 'dir']) },
      path: `watch[${index}].dir`,
      expected: 'one watch entry per folder',
      found: `a second entry for ${relative(projectDir, dir) || '.'}`,
      hint: `Move its routes into watch[${earlier}].routes, in the order they should be tried.`,
    });
  });
  return issues;
}

export async function listPipelineFiles(project: Project): Promise<PipelineFile[]> {
  const dir = resolve(project.dir, project.spec.pipelines_dir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => ['.yaml', '.yml'].includes(extname(name)) && !name.startsWith('.'))
    .sort()
    .map((name) => ({
      id: basename(name, extname(name)),
      file: join(dir, name),
      displayPath: relative(project.dir, join(dir, name)),
    }));
}

export async function findPipelineFile(project: Project, id: string): Promise<PipelineFile> {
  const files = await listPipelineFiles(project);
  const found = files.find((candidate) => candidate.id === id);
  if (found) return found;
  const suggestion = didYouMean(
    id,
    files.map((candidate) => candidate.id),
  );
  throw new PwError(
    'PW_PIPELINE_NOT_FOUND',
    `No pipeline '${id}' in ${relative(process.cwd(), resolve(project.dir, project.spec.pipelines_dir)) || '.'}`,
    {
      found: id,
      expected:
        files.length > 0
          ? `one of ${files.map((candidate) => candidate.id).join(', ')}`
          : 'a pipelines/<id>.yaml file',
      hint: suggestion
        ? `Did you mean '${suggestion}'?`
        : 'A pipeline is a file pipelines/<id>.yaml; list them with `pipewright validate`.',
    },
  );
}

export type LoadedPipeline = PipelineValidation & { source: PipelineFile; registry: StepRegistry };

/** Reads, loads step modules for, and validates one pipeline file; never throws for bad content. */
export async function loadPipeline(project: Project, source: PipelineFile): Promise<LoadedPipeline> {
  const text = await readFile(source.file, 'utf8');
  const issues: SpecIssue[] = [];
  const modules = [];
  const yaml = readYaml(text, source.displayPath);
  if (!yaml.fatal) {
    for (const uses of moduleReferences(yaml.value)) {
      try {
        modules.push(await loadUserStep(project.dir, uses, source.displayPath));
      } catch (error) {
        const pw = error as PwError;
        const index = (yaml.value as { steps: { uses?: unknown }[] }).steps.findIndex(
          (step) => step.uses === uses,
        );
        issues.push({
          code: pw.code,
          message: pw.message,
          location: { file: source.displayPath, ...yaml.locate(['steps', index, 'uses']) },
          path: `steps[${index}].uses`,
          expected: pw.expected,
          found: pw.found,
          hint: pw.hint,
        });
      }
    }
  }
  const registry = modules.length > 0 ? project.registry.extend(modules) : project.registry;
  const result = validatePipeline(text, source.displayPath, registry, {
    expectedId: source.id,
    projectTimezone: project.spec.timezone,
  });
  if (issues.length === 0) return { ...result, source, registry };
  const all = [
    ...issues,
    ...(result.ok ? [] : result.issues.filter((issue) => !issues.some((own) => own.path === issue.path))),
  ];
  all.sort((a, b) => (a.location.line ?? 0) - (b.location.line ?? 0));
  return { ok: false, issues: all, source, registry };
}
