/**
 * What an `exec` command leaves in its output folder: every regular file becomes an artifact of the
 * run (moved from the workspace into the step's artifacts folder, under a temporary name first), and
 * the file named by `dataset:` is read into the step's table by the same readers as `files.read`.
 */
import { copyFile, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ArtifactInfo, StepContext } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { formatFromPath } from '../extract/file-format.js';
import { filesReadConfig } from '../extract/files-read-schema.js';
import type { InputFile } from '../extract/input-files.js';
import { readCsv } from '../extract/read-csv.js';
import { readJson } from '../extract/read-json.js';
import { readParquet } from '../extract/read-parquet.js';
import { temporaryPathFor } from '../../engine/atomic-file.js';
import { DATASET_FORMATS, type DatasetFormat } from './exec-schema.js';

export interface OutputFile {
  absolute: string;
  /** Relative to the output folder, with forward slashes: the artifact's name. */
  name: string;
  bytes: number;
}

/** Regular files under `dir`, sorted by name; symbolic links and other special files are left out. */
export async function listOutputFiles(dir: string): Promise<OutputFile[]> {
  const found: OutputFile[] = [];
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const absolute = join(folder, entry.name);
      if (entry.isDirectory()) await walk(absolute);
      else if (entry.isFile()) {
        const name = relative(dir, absolute).split(sep).join('/');
        found.push({ absolute, name, bytes: (await lstat(absolute)).size });
      }
    }
  };
  await walk(dir);
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

function datasetFormat(name: string, declared: DatasetFormat | undefined): DatasetFormat {
  if (declared !== undefined) return declared;
  const format = formatFromPath(name);
  if (format !== undefined && (DATASET_FORMATS as readonly string[]).includes(format))
    return format as DatasetFormat;
  throw new PwError('PW_SPEC_TYPE', `Cannot tell the format of the dataset file '${name}' from its name`, {
    path: 'with.dataset',
    expected: 'a name ending in .csv, .tsv, .json, .ndjson, .jsonl or .parquet',
    found: name,
    hint: 'Rename the file the script writes, or set dataset_format.',
  });
}

/** Reads the dataset file into the step's table and returns its row count. */
export async function loadDataset(
  ctx: StepContext,
  files: readonly OutputFile[],
  name: string,
  declared: DatasetFormat | undefined,
): Promise<number> {
  const wanted = name.replace(/^\.\//, '');
  const file = files.find((candidate) => candidate.name === wanted);
  if (file === undefined) {
    const written = files.length === 0 ? 'nothing' : files.map((candidate) => candidate.name).join(', ');
    throw new PwError('PW_INPUT_NOT_FOUND', `The command did not write its dataset file '${wanted}'`, {
      path: 'with.dataset',
      expected: `a file $PIPEWRIGHT_OUTPUT_DIR/${wanted}`,
      found: `the output folder holds ${written}`,
      hint: 'Write the file into the folder named by the PIPEWRIGHT_OUTPUT_DIR environment variable, or fix `dataset:`.',
    });
  }
  const format = datasetFormat(wanted, declared);
  if (file.bytes === 0) {
    throw new PwError('PW_INPUT_EMPTY', `The dataset file '${wanted}' is empty (0 bytes)`, {
      path: 'with.dataset',
      hint: 'A CSV file with only its header line gives an empty dataset; a file with no bytes has no columns.',
    });
  }
  const input: InputFile = {
    absolute: file.absolute,
    relative: `PIPEWRIGHT_OUTPUT_DIR/${wanted}`,
    bytes: file.bytes,
  };
  const config = filesReadConfig.parse({ path: file.absolute, format, allow_empty: true });
  return ctx.datasets.replaceOutput(async (table) => {
    if (format === 'csv' || format === 'tsv') await readCsv(ctx, table, [input], config, format);
    else if (format === 'parquet') await readParquet(ctx, table, [input], config);
    else await readJson(ctx, table, [input], config, format);
  });
}

/** Moves each file into the step's artifacts folder and registers it; returns what was registered. */
export async function registerArtifacts(
  ctx: StepContext,
  files: readonly OutputFile[],
): Promise<ArtifactInfo[]> {
  const registered: ArtifactInfo[] = [];
  for (const file of files) {
    const target = join(ctx.artifacts.dir, ...file.name.split('/'));
    await mkdir(dirname(target), { recursive: true });
    const temp = temporaryPathFor(target);
    try {
      await rename(file.absolute, temp);
    } catch (error) {
      // The workspace and the artifacts folder may sit on different file systems.
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      await copyFile(file.absolute, temp);
    }
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    registered.push(await ctx.artifacts.register(target, { name: file.name }));
  }
  return registered;
}
