/**
 * `pipewright connections test [name]`: checks each connection of pipewright.yaml (or the one named)
 * the way a step would use it (see connection-probes.ts: SQL, MongoDB, S3 and SFTP) and prints ok or
 * the error per connection, with every resolved secret masked. Connections of other types (smtp,
 * local) are listed as not tested. Exit 0 when every tested connection answered, 1 when one did not,
 * 2 for an unknown name.
 */
import type { GlobalOptions } from '../main.js';
import { EXIT } from '../exit-codes.js';
import { styleFor } from '../style.js';
import { loadProject } from '../../project/load-project.js';
import { Redactor, renderConfig } from '../../core/secrets.js';
import { resolveConnection } from '../../engine/connections.js';
import type { ConnectionConfig } from '../../core/step.js';
import { testConnection, type Outcome } from './connection-probes.js';

export async function connectionsTestCommand(
  globals: GlobalOptions,
  name: string | undefined,
  options: { json?: boolean },
): Promise<number> {
  const project = await loadProject(globals.project);
  const defined = project.spec.connections;
  const redactor = new Redactor();
  const resolve = (connection: string): ConnectionConfig =>
    resolveConnection(defined, connection, undefined, (raw, path) =>
      renderConfig(
        raw,
        {},
        { timezone: project.spec.timezone, env: process.env, projectDir: project.dir, redactor, path },
      ),
    );
  // An unknown name is a usage problem (exit 2), reported with the names there are.
  if (name !== undefined && !Object.hasOwn(defined, name)) resolve(name);
  const names = name === undefined ? Object.keys(defined).sort() : [name];
  const outcomes: Outcome[] = [];
  for (const connection of names)
    outcomes.push(await testConnection(connection, defined[connection]?.type ?? '', resolve, project.dir));
  const masked = outcomes.map((outcome) => ({
    ...outcome,
    ...(outcome.message === undefined ? {} : { message: redactor.redact(outcome.message) }),
    ...(outcome.hint === undefined ? {} : { hint: redactor.redact(outcome.hint) }),
    ...(outcome.target === undefined ? {} : { target: redactor.redact(outcome.target) }),
  }));
  const failed = masked.some((outcome) => outcome.status === 'failed');
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify({ ok: !failed, connections: masked }, null, 2)}\n`);
    return failed ? EXIT.runFailed : EXIT.ok;
  }
  if (masked.length === 0) {
    process.stdout.write('No connections in pipewright.yaml (see docs/reference/connections.md).\n');
    return EXIT.ok;
  }
  const out = styleFor(process.stdout);
  const width = Math.max(...masked.map((outcome) => outcome.name.length));
  for (const outcome of masked) {
    const label = outcome.name.padEnd(width);
    if (outcome.status === 'ok') {
      process.stdout.write(
        `${out.green('ok')}      ${label}  ${outcome.target ?? outcome.type}  ${out.dim(`${outcome.ms ?? 0} ms`)}\n`,
      );
    } else if (outcome.status === 'not tested') {
      process.stdout.write(
        `${out.dim('skip')}    ${label}  type ${outcome.type} is not tested by this command\n`,
      );
    } else {
      process.stdout.write(
        `${out.red('failed')}  ${label}  ${outcome.code ?? ''}: ${outcome.message ?? ''}\n`,
      );
      if (outcome.hint !== undefined)
        process.stdout.write(`        ${' '.repeat(width)}  ${out.dim(`hint: ${outcome.hint}`)}\n`);
    }
  }
  return failed ? EXIT.runFailed : EXIT.ok;
}
