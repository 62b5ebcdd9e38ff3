/**
 * Legacy `.xls` (BIFF) workbooks are turned into `.xlsx` by LibreOffice running headless, and then
 * read by the same XLSX code as any other workbook. LibreOffice is used instead of a JavaScript BIFF
 * parser because the one on npm (SheetJS `xlsx` 0.18.5) has unpatched advisories for crafted files,
 * while Debian ships security updates for LibreOffice (`libreoffice-calc-nogui`).
 *
 * Each conversion job gets a private folder holding a LibreOffice user profile of its own (so
 * conversions running at the same time never meet on the profile lock), HOME (so nothing is written to
 * the service user's home) and the output. soffice runs in its own process group with stdin closed; a
 * timeout or the step's abort stops the whole group. The Excel import filter is forced, so a file that
 * is not an Excel workbook fails instead of being opened as text.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PwError } from '../../core/errors/pw-error.js';
import { findExecutable, isExecutable } from '../../engine/find-executable.js';
import { runProcess } from '../exec/exec-process.js';

/** The Debian package that provides a headless soffice able to convert spreadsheets. */
export const SOFFICE_PACKAGE = 'libreoffice-calc-nogui';
/** Where soffice is looked for when neither soffice_path nor PIPEWRIGHT_SOFFICE says. */
export const DEFAULT_SOFFICE = '/usr/bin/soffice';
export const SOFFICE_NAMES = ['soffice', 'libreoffice'] as const;
/** Longest one conversion may take before it counts as hung (a full BIFF8 sheet takes seconds). */
export const SOFFICE_TIMEOUT_MS = 300_000;
const GRACE_MS = 5_000;
/** LibreOffice's import filter for Excel 97–2003 (it also reads the older BIFF5 stream of Excel 95). */
const EXCEL_FILTER = 'MS Excel 97';

const INSTALL_HINT = `Install LibreOffice's spreadsheet part (\`apt-get install ${SOFFICE_PACKAGE}\` on Debian and Ubuntu), or set \`soffice_path\` in the step (or PIPEWRIGHT_SOFFICE) to a soffice executable; or save the workbook as .xlsx, which needs no converter.`;

/**
 * The soffice to use: `configured` (soffice_path, resolved by the caller), else PIPEWRIGHT_SOFFICE,
 * else /usr/bin/soffice, else the first of SOFFICE_NAMES on PATH. PW_SOFFICE_MISSING when the chosen
 * or every candidate is missing; `file` is the workbook that needed it.
 */
export async function findSoffice(
  configured: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  file: string,
): Promise<string> {
  const explicit = configured ?? (env['PIPEWRIGHT_SOFFICE'] || undefined);
  if (explicit !== undefined) {
    if (await isExecutable(explicit)) return explicit;
    const origin = configured !== undefined ? 'soffice_path' : 'PIPEWRIGHT_SOFFICE';
    throw new PwError(
      'PW_SOFFICE_MISSING',
      `Cannot read ${file}: ${origin} names ${explicit}, which is not an executable file`,
      {
        location: { file },
        path: configured !== undefined ? 'with.soffice_path' : undefined,
        expected: `the path of LibreOffice's soffice (package ${SOFFICE_PACKAGE})`,
        found: explicit,
        hint: INSTALL_HINT,
      },
    );
  }
  const found = await findExecutable(DEFAULT_SOFFICE, SOFFICE_NAMES, env);
  if (found !== undefined) return found;
  throw new PwError(
    'PW_SOFFICE_MISSING',
    `Cannot read ${file}: legacy .xls workbooks need LibreOffice (package ${SOFFICE_PACKAGE}), and no soffice was found (tried ${DEFAULT_SOFFICE}, ${SOFFICE_NAMES.join(', ')} on PATH)`,
    {
      location: { file },
      expected: `LibreOffice's soffice (package ${SOFFICE_PACKAGE})`,
      found: 'none',
      hint: INSTALL_HINT,
    },
  );
}

/** What the caller shows for a workbook in messages: its path relative to the project. */
export interface Workbook {
  absolute: string;
  relative: string;
}

/** The lines of soffice's output worth repeating: its own errors, not the start-up noise. */
function meaningful(lines: readonly string[]): string[] {
  return lines.filter((line) => line.trim() !== '' && !/javaldx|^convert /.test(line));
}

/**
 * One job's private folder: conversions made through it run one after another and share its
 * LibreOffice profile, which saves the profile's set-up (about a second) on every file after the first.
 */
export class SofficeConverter {
  #count = 0;

  private constructor(
    readonly soffice: string,
    readonly folder: string,
    readonly signal: AbortSignal,
    readonly timeoutMs: number,
  ) {}

  /** Creates the private folder (mode 0700) under `parent`, normally the run's workspace. */
  static async create(
    soffice: string,
    parent: string,
    signal: AbortSignal,
    timeoutMs = SOFFICE_TIMEOUT_MS,
  ): Promise<SofficeConverter> {
    await mkdir(parent, { recursive: true });
    const folder = await mkdtemp(join(parent, '.soffice-'));
    return new SofficeConverter(soffice, folder, signal, timeoutMs);
  }

  /** Converts one .xls workbook and returns the path of the .xlsx, inside the private folder. */
  async toXlsx(workbook: Workbook): Promise<string> {
    this.#count += 1;
    const outDir = join(this.folder, `out-${this.#count}`);
    await mkdir(outDir);
    const result = await runProcess({
      file: this.soffice,
      args: [
        '--headless',
        '--norestore',
        '--nologo',
        '--nodefault',
        '--nolockcheck',
        `-env:UserInstallation=${pathToFileURL(join(this.folder, 'profile')).href}`,
        `--infilter=${EXCEL_FILTER}`,
        '--convert-to',
        'xlsx',
        '--outdir',
        outDir,
        workbook.absolute,
      ],
      cwd: this.folder,
      env: { ...definedEnv(process.env), HOME: this.folder },
      timeoutMs: this.timeoutMs,
      graceMs: GRACE_MS,
      signal: this.signal,
      onLine: () => undefined,
      maxLines: 0,
      onCapped: () => undefined,
      onLeftovers: () => undefined,
    });
    const said = meaningful([...result.tail.stderr, ...result.tail.stdout]);
    const { outcome } = result;
    if (outcome.kind === 'aborted') {
      throw new PwError('PW_CANCELLED', `Converting ${workbook.relative} was cancelled`);
    }
    if (outcome.kind === 'spawn-failed') {
      throw new PwError(
        'PW_SOFFICE_MISSING',
        `Cannot read ${workbook.relative}: ${this.soffice} could not be started (${outcome.error.code ?? outcome.error.message})`,
        { location: { file: workbook.relative }, found: this.soffice, hint: INSTALL_HINT },
      );
    }
    if (outcome.kind === 'timeout') {
      throw new PwError(
        'PW_SOFFICE_FAILED',
        `LibreOffice did not finish converting ${workbook.relative} within ${Math.round(this.timeoutMs / 1000)} s`,
        {
          location: { file: workbook.relative },
          hint: 'Its process group was stopped. Check that the file opens in LibreOffice Calc on a desktop; a very large workbook may be faster saved as .xlsx at the source.',
        },
      );
    }
    if (outcome.code !== 0) {
      const how =
        outcome.signal !== null ? `was killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
      throw new PwError(
        'PW_SOFFICE_FAILED',
        `LibreOffice ${how} while converting ${workbook.relative}${said.length > 0 ? `: ${said.join(' ')}` : ''}`,
        {
          location: { file: workbook.relative },
          hint: `Run \`${this.soffice} --headless --convert-to xlsx --outdir /tmp ${workbook.absolute}\` as this user to see LibreOffice's own error.`,
        },
      );
    }
    // soffice exits 0 even when it cannot load the file; the missing output is the only sure sign.
    const produced = (await readdir(outDir)).filter((name) => name.toLowerCase().endsWith('.xlsx'));
    const [output] = produced;
    if (output === undefined) {
      throw new PwError(
        'PW_INPUT_MALFORMED',
        `${workbook.relative}: LibreOffice cannot read it as an Excel workbook${said.length > 0 ? ` (${said.join(' ')})` : ''}`,
        {
          location: { file: workbook.relative },
          expected: 'a legacy Excel workbook (.xls, BIFF)',
          found: `a file LibreOffice's Excel filter refuses (${basename(workbook.absolute)})`,
          hint: 'The file may be damaged, password-protected, or not a workbook at all: many ".xls" exports are really HTML or CSV. Open it in a text editor; if it is CSV or TSV, read it with format: csv or tsv.',
        },
      );
    }
    return join(outDir, output);
  }

  /** Removes the private folder with the profile and every converted workbook. */
  async dispose(): Promise<void> {
    await rm(this.folder, { recursive: true, force: true });
  }
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) result[name] = value;
  return result;
}
