/**
 * The `pipewright` command line. Each command lives in its own module; this file wires them to
 * commander and turns every error into one clear block and the right exit code.
 */
import { Command, CommanderError, Option } from 'commander';
import { PwError, toPwError } from '../core/errors/pw-error.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { formatError } from './format-error.js';
import { styleFor } from './style.js';
import { VERSION } from '../version.js';
import type { SendOptions } from './commands/send.js';

// Commands are imported when chosen: start-up stays short for cron and for every `run`.
export interface GlobalOptions {
  project: string;
  verbose: boolean;
  /** A running `pipewright serve` for the commands that work against one (remote/connection.ts). */
  server?: string;
  token?: string;
  tokenFile?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export async function main(argv: readonly string[]): Promise<number> {
  // `pipewright logs … | head` closes the pipe early; that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  let exitCode: number = EXIT.ok;
  const program = new Command('pipewright')
    .description('Scheduled data pipelines that end in a report.')
    .version(VERSION)
    .option('-p, --project <dir>', 'the project folder', process.env.PIPEWRIGHT_PROJECT ?? '.')
    .option('--verbose', 'print stack traces with errors', false)
    .option('--server <url>', 'work against a running `pipewright serve` (env PIPEWRIGHT_SERVER)')
    .option('--token-file <path>', 'a file holding the API token for --server')
    .option('--token <token>', 'the API token for --server; visible to ps, so prefer env PIPEWRIGHT_TOKEN')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureOutput({
    writeErr: (text) => process.stderr.write(text),
    writeOut: (text) => process.stdout.write(text),
  });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  // --server and the token options are refused by commands that only work on the project folder.
  program.hook('preAction', async (_program, command) => {
    const path: string[] = [];
    for (let at: Command | null = command; at !== null && at !== program; at = at.parent)
      path.unshift(at.name());
    (await import('./remote/connection.js')).assertServerOptionsFit(path, globals());
  });
  const set = (code: number) => {
    exitCode = code;
  };

  program
    .command('init')
    .description('create a project with a demo pipeline and sample data')
    .argument('<dir>', 'folder to create (must be empty or missing)')
    .action(async (dir: string) => set(await (await import('./commands/init.js')).initCommand(dir)));

  program
    .command('validate')
    .description('check pipewright.yaml and every pipeline, reporting all problems at once')
    .option('--json', 'print machine-readable results')
    .action(async (options: { json?: boolean }) =>
      set(await (await import('./commands/validate.js')).validateCommand(globals(), options)),
    );

  program
    .command('run')
    .description('run a pipeline now (or resume a failed run)')
    .argument('[pipeline]', 'pipeline id')
    .option('--param <name=value>', 'a run parameter (repeatable)', collect, [])
    .option('--resume <run-id>', 'continue a failed, cancelled or crashed run from its first unfinished step')
    .option('--json', 'print the run record as JSON when done')
    .action(
      async (pipeline: string | undefined, options: { param: string[]; resume?: string; json?: boolean }) =>
        set(await (await import('./commands/run.js')).runCommand(globals(), pipeline, options)),
    );

  program
    .command('runs')
    .description('list recent runs, newest first')
    .option('--pipeline <id>', 'only runs of this pipeline')
    .addOption(
      new Option('--status <status>', 'only runs with this status').choices([
        'queued',
        'running',
        'succeeded',
        'failed',
        'cancelled',
      ]),
    )
    .option('--limit <n>', 'how many runs', '20')
    .option('--json', 'print JSON')
    .action(async (options: { pipeline?: string; status?: string; limit: string; json?: boolean }) =>
      set(await (await import('./commands/runs.js')).runsCommand(globals(), options)),
    );

  program
    .command('show')
    .description('show one run: status, steps, errors, artifacts')
    .argument('<run-id>', 'run id or a unique prefix of it')
    .option('--json', 'print JSON')
    .action(async (runId: string, options: { json?: boolean }) =>
      set(await (await import('./commands/show.js')).showCommand(globals(), runId, options)),
    );

  program
    .command('logs')
    .description("print a run's log")
    .argument('<run-id>', 'run id or a unique prefix of it')
    .option('--step <id>', 'only this step')
    .option('--json', 'print JSON lines')
    .option('-f, --follow', 'keep printing new lines until the run has finished')
    .action(async (runId: string, options: { step?: string; json?: boolean; follow?: boolean }) =>
      set(await (await import('./commands/logs.js')).logsCommand(globals(), runId, options)),
    );

  program
    .command('schema')
    .description('print the JSON Schema of pipeline files (or of pipewright.yaml)')
    .addOption(
      new Option('--for <file>', 'which file the schema describes')
        .choices(['pipeline', 'project'])
        .default('pipeline'),
    )
    .action(async (options: { for: 'pipeline' | 'project' }) =>
      set(await (await import('./commands/schema.js')).schemaCommand(globals(), options)),
    );

  program
    .command('demo')
    .description('create ./demo (if missing) and serve it on 127.0.0.1; its weekly pipeline runs at start-up')
    .option('--dir <dir>', 'where the demo project lives', 'demo')
    .option('--port <n>', 'port to serve on (0 picks a free one)', '8080')
    .option('--once', 'run the weekly pipeline once and exit instead of serving')
    .action(async (options: { dir: string; port: string; once?: boolean }) =>
      set(await (await import('./commands/demo.js')).demoCommand(globals(), options)),
    );

  program
    .command('serve')
    .description('run the service: scheduler, workers and health endpoints, until SIGTERM/SIGINT')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 picks a free one)', '8080')
    .option('--concurrency <n>', 'runs executed at once by the in-process workers', '2')
    .action(async (options: { host: string; port: string; concurrency: string }) =>
      set(await (await import('./commands/serve.js')).serveCommand(globals(), options)),
    );

  program
    .command('worker')
    .description('execute queued runs (no scheduler), until SIGTERM/SIGINT')
    .option('--concurrency <n>', 'runs executed at once', '1')
    // Set by `serve` for the runner process it starts (src/cli/runner-supervisor.ts); not for users.
    .addOption(new Option('--runner').hideHelp())
    .action(async (options: { concurrency: string; runner?: boolean }) =>
      set(await (await import('./commands/worker.js')).workerCommand(globals(), options)),
    );

  program
    .command('scheduler')
    .description('queue scheduled runs for workers to execute (no workers), until SIGTERM/SIGINT')
    .action(async () => set(await (await import('./commands/scheduler.js')).schedulerCommand(globals())));

  program
    .command('trigger')
    .description('queue a run for the service to execute; prints the run id as the last line')
    .argument('<pipeline>', 'pipeline id')
    .option('--param <name=value>', 'a run parameter (repeatable)', collect, [])
    .action(async (pipeline: string, options: { param: string[] }) =>
      set(await (await import('./commands/trigger.js')).triggerCommand(globals(), pipeline, options)),
    );

  program
    .command('pause')
    .description("stop queuing a pipeline's scheduled runs")
    .argument('<pipeline>', 'pipeline id')
    .action(async (pipeline: string) =>
      set(await (await import('./commands/pause.js')).pauseCommand(globals(), pipeline)),
    );

  program
    .command('resume')
    .description("queue a paused pipeline's scheduled runs again")
    .argument('<pipeline>', 'pipeline id')
    .action(async (pipeline: string) =>
      set(await (await import('./commands/resume.js')).resumeCommand(globals(), pipeline)),
    );

  program
    .command('cancel')
    .description('cancel a queued run, or stop a running one')
    .argument('<run-id>', 'run id or a unique prefix of it')
    .action(async (runId: string) =>
      set(await (await import('./commands/cancel.js')).cancelCommand(globals(), runId)),
    );

  program
    .command('retry')
    .description('queue a failed or cancelled run again, to resume from its failed step')
    .argument('<run-id>', 'run id or a unique prefix of it')
    .action(async (runId: string) =>
      set(await (await import('./commands/retry.js')).retryCommand(globals(), runId)),
    );

  program
    .command('send')
    .description(
      "pack files into one batch payload and post it to a server's inbox; prints the batch id last",
    )
    .option('--folder <dir>', 'send the files of this folder that have an allowed type')
    .option('--file <path>', 'send this file (repeatable)', collect, [])
    .option('--data <json>', 'send this JSON text as data.json')
    .option('--batch-name <name>', 'a name recorded in batch_metadata')
    .option('--to <url>', 'the inbox: http://host:8080/api/inboxes/<inbox>/batches, or a server with --inbox')
    .option('--inbox <name>', 'the inbox name when --to (or PIPEWRIGHT_SERVER) is the server')
    .option(
      '--types <list>',
      'extensions taken from --folder, comma-separated (default: json and images, txt, csv, xml)',
    )
    .option('--dry-run', 'list what would be sent and send nothing')
    .action(async (options: SendOptions) =>
      set(await (await import('./commands/send.js')).sendCommand(globals(), options)),
    );

  const token = program.command('token').description('manage bearer tokens for the REST API');
  token
    .command('create')
    .description('create a token; prints it once, as the last line')
    .requiredOption('--name <name>', 'a unique name for the token')
    .addOption(
      new Option('--scope <scope>', 'what the token may do')
        .choices(['read', 'operate', 'admin'])
        .makeOptionMandatory(),
    )
    .action(async (options: { name: string; scope: string }) =>
      set(await (await import('./commands/token.js')).tokenCreateCommand(globals(), options)),
    );
  token
    .command('list')
    .description('list tokens (never the tokens themselves)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) =>
      set(await (await import('./commands/token.js')).tokenListCommand(globals(), options)),
    );
  token
    .command('revoke')
    .description('revoke a token by name')
    .argument('<name>', 'token name')
    .action(async (name: string) =>
      set(await (await import('./commands/token.js')).tokenRevokeCommand(globals(), name)),
    );

  program
    .command('backfill')
    .description('queue a run for every schedule slot in a range; prints the run ids')
    .argument('<pipeline>', 'pipeline id')
    .requiredOption('--from <date|instant>', 'first slot (a date means the whole day)')
    .requiredOption('--to <date|instant>', 'last slot (inclusive; a date means the whole day)')
    .option('--param <name=value>', 'a run parameter (repeatable)', collect, [])
    .option('--yes', 'queue more than 1000 slots')
    .action(async (pipeline: string, options: { from: string; to: string; param: string[]; yes?: boolean }) =>
      set(await (await import('./commands/backfill.js')).backfillCommand(globals(), pipeline, options)),
    );

  const importCommand = program.command('import').description('turn existing jobs into draft pipelines');
  importCommand
    .command('crontab')
    .description('one draft pipeline (schedule + exec step) per crontab job; never overwrites a file')
    .argument('[file]', 'the crontab file, or - for standard input', '-')
    .option('--out <dir>', "where to write the drafts (default: the project's pipelines folder)")
    .option('--timezone <zone>', "the time zone cron ran in (default: this system's zone)")
    .action(async (file: string, options: { out?: string; timezone?: string }) =>
      set(
        await (await import('./commands/import-crontab.js')).importCrontabCommand(globals(), file, options),
      ),
    );

  const connections = program.command('connections').description('the named connections of pipewright.yaml');
  connections
    .command('test')
    .description(
      'check each connection (SQL, MongoDB, S3, SFTP) or one, and report ok or the error; secrets are never printed',
    )
    .argument('[name]', 'only this connection')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) =>
      set(await (await import('./commands/connections.js')).connectionsTestCommand(globals(), name, options)),
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests end here too, with code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    const pwError = error instanceof PwError ? error : toPwError(error);
    const verbose = argv.includes('--verbose');
    process.stderr.write(`${formatError(pwError, styleFor(process.stderr), { verbose })}\n`);
    return exitCodeFor(pwError);
  }
  return exitCode;
}
