/**
 * `batch.pack` (a load): builds one batch payload from artifacts of the run whose names match a glob
 * (charts, exports, reports of earlier steps), streamed to a temporary file and registered as an
 * artifact of this step, in the format inboxes and `pipewright send` use.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { payloadChunks, type PayloadFile } from '../../connectors/batch/build-payload.js';
import { nameProblem } from '../../connectors/batch/file-names.js';
import { globToRegExp } from '../storage/storage-common.js';

export const batchPackConfig = z.strictObject({
  artifacts: z
    .string()
    .min(1)
    .default('*')
    .describe('Artifacts of the run to pack, by name glob (* and ? within a name). Default: all of them.'),
  name: z.string().min(1).default('batch.json').describe('The payload file name (an artifact of this step).'),
  batch_name: z.string().optional().describe('Recorded as batch_metadata.batch_name.'),
});

export const batchPackStep = defineStep({
  type: 'batch.pack',
  kind: 'load',
  description: "Builds a batch payload (JSON with base64 files and metadata) from the run's artifacts.",
  config: batchPackConfig,
  producesDataset: false,
  async run(ctx, config) {
    const problem = nameProblem(config.name);
    if (problem !== undefined) {
      throw new PwError('PW_SPEC_TYPE', `Step '${ctx.stepId}': with.name '${config.name}': ${problem}`);
    }
    const pattern = globToRegExp(config.artifacts);
    const selected = (await ctx.artifacts.list()).filter(
      (artifact) => artifact.stepId !== ctx.stepId && pattern.test(artifact.name),
    );
    if (selected.length === 0) {
      throw new PwError(
        'PW_INPUT_EMPTY',
        `Step '${ctx.stepId}': no artifact of the run matches '${config.artifacts}'`,
        {
          hint: 'List the steps that make the artifacts in `needs`, so they run first.',
        },
      );
    }
    const files: PayloadFile[] = selected.map((artifact) => ({
      name: artifact.name,
      path: artifact.path,
      bytes: artifact.bytes,
    }));
    const names = new Set<string>();
    for (const file of files) {
      if (names.has(file.name))
        throw new PwError(
          'PW_INPUT_MALFORMED',
          `Step '${ctx.stepId}': two artifacts are named '${file.name}'`,
        );
      names.add(file.name);
    }
    await mkdir(ctx.artifacts.dir, { recursive: true });
    const target = join(ctx.artifacts.dir, config.name);
    const temp = `${target}.part`;
    try {
      const out = createWriteStream(temp);
      for await (const chunk of payloadChunks(files, {
        sourceFolder: `run ${ctx.run.id}`,
        batchName: config.batch_name,
        now: ctx.now(),
      })) {
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const artifact = await ctx.artifacts.register(target, {
      name: config.name,
      contentType: 'application/json',
    });
    ctx.log.info(`Packed ${files.length} artifact(s) into ${config.name}`);
    return { rows: files.length, bytes: artifact.bytes, outputs: { files: files.map((file) => file.name) } };
  },
});
