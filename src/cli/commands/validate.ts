/**
 * `pipewright validate`: checks the project file and every pipeline, reporting all problems, including
 * those of pipewright.yaml that need the pipelines (watch routes: their pipelines and params).
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { listPipelineFiles, loadPipeline, loadProject } from '../../project/load-project.js';
import { formatIssue } from '../format-error.js';
import { styleFor } from '../style.js';
import type { SpecIssue } from '../../core/errors/pw-error.js';
import { scheduleLine } from '../describe-schedule.js';
import { resolveWatchRoutes } from '../../scheduler/watch/watch-routes.js';

export async function validateCommand(globals: GlobalOptions, options: { json?: boolean }): Promise<number> {
  const project = await loadProject(globals.project);
  const files = await listPipelineFiles(project);
  const results = [];
  for (const file of files) results.push(await loadPipeline(project, file));
  const projectIssues = resolveWatchRoutes(
    { projectDir: project.dir, folders: project.spec.watch, locate: project.locate },
    results.map((result) => ({
      id: result.source.id,
      file: result.source.displayPath,
      spec: result.ok ? result.spec : undefined,
    })),
  ).issues;
  const issues: SpecIssue[] = [
    ...projectIssues,
    ...results.flatMap((result) => (result.ok ? [] : result.issues)),
  ];

  if (options.json) {
    const payload = {
      ok: issues.length === 0,
      project: { file: 'pipewright.yaml', ok: projectIssues.length === 0, issues: projectIssues },
      pipelines: results.map((result) => ({
        id: result.source.id,
        file: result.source.displayPath,
        ok: result.ok,
        steps: result.ok
          ? result.plan.nodes.map((node) => ({ id: node.id, uses: node.uses, depends_on: node.dependsOn }))
          : [],
        params: result.ok ? (result.spec.params ?? {}) : {},
        issues: result.ok ? [] : result.issues,
      })),
    };
    process.stdout.write(`${JSON.stringify(payload, null, 2)}\n`);
    return issues.length === 0 ? EXIT.ok : EXIT.invalid;
  }

  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  if (projectIssues.length > 0) {
    process.stdout.write(
      `${out.red('error')} pipewright.yaml (${projectIssues.length} problem${projectIssues.length === 1 ? '' : 's'})\n`,
    );
  }
  if (files.length === 0) process.stdout.write(`No pipelines in ${project.spec.pipelines_dir}/ yet.\n`);
  for (const result of results) {
    if (result.ok) {
      const schedule = result.spec.schedule
        ? `  ${out.dim(scheduleLine(result.spec.schedule, project.spec.timezone))}`
        : '';
      process.stdout.write(
        `${out.green('ok')}    ${result.source.id} (${result.plan.nodes.length} steps)${schedule}\n`,
      );
    } else {
      process.stdout.write(
        `${out.red('error')} ${result.source.id} (${result.issues.length} problem${result.issues.length === 1 ? '' : 's'})\n`,
      );
    }
  }
  if (issues.length > 0) {
    process.stderr.write(`\n${issues.map((issue) => formatIssue(issue, err, project.dir)).join('\n\n')}\n\n`);
    process.stderr.write(`${err.red(`${issues.length} problem${issues.length === 1 ? '' : 's'} found`)}\n`);
    return EXIT.invalid;
  }
  return EXIT.ok;
}
