/**
 * The `with:` block of an `exec` step. `command` is an argv list (no shell involved) unless
 * `shell: true`, which takes a single string for /bin/sh -c: the shell is always asked for
 * explicitly, never implied by a string.
 */
import { z } from 'zod';
import { durationSchema } from '../../core/spec/pipeline-schema.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** File extensions the `dataset:` file may have, and the reader each one selects. */
export const DATASET_FORMATS = ['csv', 'tsv', 'json', 'ndjson', 'parquet'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export const execConfig = z
  .strictObject({
    command: z
      .union([z.array(z.string()).min(1), z.string().min(1)])
      .describe(
        'The program and its arguments as a list, e.g. [python3, scripts/report.py, --day, "{{ run.date }}"]; each element is templated on its own and passed as is, no shell involved. With shell: true, one string run by /bin/sh -c.',
      ),
    shell: z
      .boolean()
      .default(false)
      .describe(
        'Run `command` (then a single string) with /bin/sh -c, for pipes, redirections, && and $VARIABLES (default false).',
      ),
    cwd: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Working folder of the command, relative to the project folder (default: the project folder).',
      ),
    env: z
      .record(
        z.string().regex(ENV_NAME, 'an environment variable name: letters, digits and _'),
        z.string().describe('The value; ${env:NAME} and ${file:path} secret references are allowed.'),
      )
      .optional()
      .describe(
        'Environment variables for the command. Values may be secret references; resolved values are masked in logs and errors.',
      ),
    inherit_env: z
      .array(z.string().regex(ENV_NAME, 'an environment variable name: letters, digits and _'))
      .default([])
      .describe(
        "Names of the service's own environment variables to pass through besides the default PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR (e.g. [PYTHONPATH, VIRTUAL_ENV]).",
      ),
    timeout: durationSchema
      .optional()
      .describe(
        'Stop the command (its whole process group) after this long and fail with PW_STEP_TIMEOUT (default: no limit of its own).',
      ),
    kill_grace: durationSchema
      .default('10s')
      .describe('After SIGTERM on timeout or cancel, wait this long before SIGKILL (default 10s).'),
    dataset: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A file the command writes into $PIPEWRIGHT_OUTPUT_DIR (.csv, .tsv, .json, .ndjson/.jsonl or .parquet) that becomes the step's dataset. Default: no dataset.",
      ),
    dataset_format: z
      .enum(DATASET_FORMATS)
      .optional()
      .describe('The format of the dataset file when its name does not say (default: from its extension).'),
    log_lines: z
      .int()
      .min(0)
      .default(5000)
      .describe(
        'Most lines of stdout and stderr (together) written to the run log (default 5000); the rest is counted, not logged.',
      ),
  })
  .superRefine((config, context) => {
    if (config.shell && typeof config.command !== 'string') {
      context.addIssue({
        code: 'custom',
        path: ['command'],
        message: 'with shell: true, command is one string for /bin/sh -c',
      });
    }
    if (!config.shell && typeof config.command === 'string') {
      context.addIssue({
        code: 'custom',
        path: ['command'],
        message:
          'command is a list of arguments, e.g. [python3, script.py]; set shell: true to run a string with /bin/sh -c',
      });
    }
    if (config.dataset !== undefined && (config.dataset.includes('..') || config.dataset.startsWith('/'))) {
      context.addIssue({
        code: 'custom',
        path: ['dataset'],
        message: 'a file name inside $PIPEWRIGHT_OUTPUT_DIR, without .. or a leading /',
      });
    }
  })
  .describe('Runs a program or script; its output folder becomes artifacts and, optionally, the dataset.');

export type ExecConfig = z.output<typeof execConfig>;
