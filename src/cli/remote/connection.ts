/**
 * Whether a command works against a running server, and with which token. `--server` (else
 * `PIPEWRIGHT_SERVER`) names the server; the token comes from `--token`, `--token-file` or
 * `PIPEWRIGHT_TOKEN`. Only the commands in REMOTE_COMMANDS have a remote mode: the others refuse the
 * options when given on the command line, and ignore the environment variables.
 */
import { readFile } from 'node:fs/promises';
import { PwError } from '../../core/errors/pw-error.js';
import { ApiClient } from './api-client.js';

export const REMOTE_COMMANDS = [
  'runs',
  'show',
  'logs',
  'trigger',
  'cancel',
  'retry',
  'pause',
  'resume',
  'send',
] as const;

export interface ServerOptions {
  server?: string | undefined;
  token?: string | undefined;
  tokenFile?: string | undefined;
}

const listed = `${REMOTE_COMMANDS.slice(0, -1).join(', ')} and ${REMOTE_COMMANDS.at(-1) ?? ''}`;

/** PW_USAGE when --server, --token or --token-file is given to a command that only works locally. */
export function assertServerOptionsFit(commandPath: readonly string[], options: ServerOptions): void {
  const given = [
    options.server === undefined ? undefined : '--server',
    options.token === undefined ? undefined : '--token',
    options.tokenFile === undefined ? undefined : '--token-file',
  ].filter((flag) => flag !== undefined);
  const [first] = given;
  if (first === undefined) return;
  const [command] = commandPath;
  if (commandPath.length === 1 && (REMOTE_COMMANDS as readonly string[]).includes(command ?? '')) return;
  throw new PwError(
    'PW_USAGE',
    `\`pipewright ${commandPath.join(' ')}\` does not work against a server (${given.join(', ')})`,
    {
      hint: `--server works with ${listed}; \`pipewright ${commandPath.join(' ')}\` works on the project folder, so run it on the server's machine.`,
    },
  );
}

/** The client for the server the options or the environment name; undefined to work locally. */
export async function connect(
  options: ServerOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiClient | undefined> {
  const server = options.server ?? nonEmpty(env.PIPEWRIGHT_SERVER);
  if (server === undefined) {
    if (options.token !== undefined || options.tokenFile !== undefined) {
      throw new PwError(
        'PW_USAGE',
        `${options.token !== undefined ? '--token' : '--token-file'} needs --server`,
        {
          hint: 'Name the server with --server <url> or PIPEWRIGHT_SERVER; without one, commands read the project folder.',
        },
      );
    }
    return undefined;
  }
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new PwError('PW_USAGE', 'Give either --token or --token-file, not both');
  }
  let token: string | undefined;
  let source: string;
  if (options.tokenFile !== undefined) {
    token = await readTokenFile(options.tokenFile);
    source = `--token-file ${options.tokenFile}`;
  } else if (options.token !== undefined) {
    token = options.token.trim();
    source = '--token';
  } else {
    token = nonEmpty(env.PIPEWRIGHT_TOKEN)?.trim();
    source = 'PIPEWRIGHT_TOKEN';
  }
  const client = new ApiClient({ server, token: token ?? '' });
  if (token === undefined || token === '') {
    throw new PwError('PW_AUTH_REQUIRED', `No API token for the server at ${client.server}`, {
      hint: 'Set PIPEWRIGHT_TOKEN or pass --token-file <path>; create a token on the server with: pipewright token create --name <name> --scope operate (read is enough for runs, show and logs).',
    });
  }
  // Never echo it: a token with spaces or control characters would end up in fetch's error message.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new PwError('PW_USAGE', `The API token from ${source} contains spaces or control characters`, {
      hint: 'A Pipewright token is one word starting with pw_; check what was pasted.',
    });
  }
  return client;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new PwError('PW_USAGE', `Cannot read --token-file ${path}: ${code}`, { cause: error });
  }
  const token = text.trim();
  if (token === '') throw new PwError('PW_USAGE', `--token-file ${path} is empty`);
  return token;
}
