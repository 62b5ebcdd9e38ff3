/**
 * `batch.unpack` (an extract): unpacks batch payload files found in a folder (payloads that travelled
 * through a git repository or a shared folder) into a storage folder, with the same streaming reader
 * and checks as the inbox route: all or nothing per payload, timestamped names, never overwriting, a
 * processing summary beside. A payload is removed only once its files and summary are stored
 * (`remove_payloads`); a refused payload fails the step and stays where it was.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { DEFAULT_ALLOWED_TYPES } from '../../connectors/batch/file-names.js';
import { unpackPayload } from '../../connectors/batch/unpack-payload.js';
import { findInputFiles, type InputFile } from '../extract/input-files.js';
import { newRunId } from '../../engine/run-ids.js';

const MB = 1024 * 1024;

export const batchUnpackConfig = z.strictObject({
  path: z
    .string()
    .min(1)
    .describe('A payload file or a glob of them, relative to the project (e.g. _storage/*.batch.json).'),
  to: z.string().min(1).describe('The folder the files are unpacked into, relative to the project.'),
  allowed_types: z
    .array(z.string().regex(/^[a-z0-9]{1,10}$/, 'an extension without its dot, lower case'))
    .min(1)
    .default([...DEFAULT_ALLOWED_TYPES])
    .describe('Extensions accepted. Default: json, images, txt, csv, xml.'),
  max_file_mb: z.number().positive().default(50).describe('Largest single file in MB.'),
  max_files: z.int().min(1).default(1000).describe('Most files in one payload.'),
  remove_payloads: z
    .boolean()
    .default(true)
    .describe('Remove each payload file once its files and summary are stored (default true).'),
});

export const batchUnpackStep = defineStep({
  type: 'batch.unpack',
  kind: 'extract',
  description: 'Unpacks batch payload files (JSON with base64 files and metadata) into a folder.',
  config: batchUnpackConfig,
  producesDataset: false,
  async run(ctx, config) {
    let payloads: InputFile[];
    try {
      payloads = await findInputFiles(ctx.projectDir, config.path);
    } catch (error) {
      if (error instanceof PwError && error.code === 'PW_INPUT_NOT_FOUND') {
        ctx.log.info(`No payload matches ${config.path}`);
        return { rows: 0, outputs: { batches: 0, files: [] } };
      }
      throw error;
    }
    const storageDir = ctx.resolvePath(config.to);
    await mkdir(storageDir, { recursive: true });
    const files: string[] = [];
    let bytes = 0;
    for (const payload of payloads) {
      const result = await unpackPayload(createReadStream(payload.absolute, { highWaterMark: 256 * 1024 }), {
        storageDir,
        batchId: newRunId(ctx.now()),
        allowedTypes: config.allowed_types,
        maxFiles: config.max_files,
        maxFileBytes: config.max_file_mb * MB,
        now: ctx.now(),
        source: payload.relative,
      });
      for (const file of result.files) files.push(relative(ctx.projectDir, file.path));
      bytes += result.files.reduce((sum, file) => sum + file.bytes, 0);
      ctx.log.info(`Unpacked ${result.files.length} file(s) from ${payload.relative}`, {
        summary: basename(result.summaryPath),
      });
      if (config.remove_payloads) await rm(payload.absolute, { force: true });
    }
    return { rows: files.length, bytes, outputs: { batches: payloads.length, files: files.slice(0, 1000) } };
  },
});
