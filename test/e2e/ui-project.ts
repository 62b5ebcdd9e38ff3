/**
 * The project the web UI's end-to-end test serves: the demo project plus three manual pipelines made
 * for the UI's fault cases — a step that logs many lines, one that ticks until cancelled, and one that
 * registers an artifact too large to preview.
 */
export const UI_TEST_FILES: Record<string, string> = {
  'steps/chatty.js': `// Logs \`lines\` numbered lines, for the log view's virtualisation.
export default {
  kind: 'custom',
  description: 'Logs many lines.',
  config: (z) => z.strictObject({ lines: z.string(), every_ms: z.string().default('0') }),
  // Templated from params, so text here (the schema is checked before templates are rendered).
  async run(ctx, config) {
    const lines = Number(config.lines);
    const everyMs = Number(config.every_ms);
    for (let line = 1; line <= lines; line += 1) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      ctx.log.info('line ' + line + ' of ' + lines);
      if (everyMs > 0) await new Promise((done) => setTimeout(done, everyMs));
    }
    return {};
  },
};
`,
  'steps/big-file.js': `// Registers an artifact of \`megabytes\` MB, over the preview limit.
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
export default {
  kind: 'custom',
  description: 'Writes a large CSV artifact.',
  config: (z) => z.strictObject({ megabytes: z.number().int().min(1) }),
  async run(ctx, config) {
    await mkdir(ctx.artifacts.dir, { recursive: true });
    const target = join(ctx.artifacts.dir, 'big.csv');
    const temp = target + '.tmp';
    const file = await open(temp, 'w');
    const row = 'id,value\\n' + '1,' + 'x'.repeat(1024 * 1024 - 12) + '\\n';
    for (let index = 0; index < config.megabytes; index += 1) await file.write(index === 0 ? row : row.slice(9));
    await file.close();
    await rename(temp, target);
    await ctx.artifacts.register(target, { name: 'big.csv', contentType: 'text/csv' });
    return {};
  },
};
`,
  'pipelines/chatty.yaml': `id: chatty
description: Logs many numbered lines (UI test)
params:
  lines: { type: integer, default: 100000, description: How many lines to log }
  every_ms: { type: integer, default: 0, description: Pause after each line }
steps:
  - id: talk
    uses: ./steps/chatty.js
    with: { lines: "{{ params.lines }}", every_ms: "{{ params.every_ms }}" }
`,
  'pipelines/big-artifact.yaml': `id: big-artifact
description: Produces a CSV too large to preview (UI test)
steps:
  - id: big
    uses: ./steps/big-file.js
    with: { megabytes: 51 }
`,
};
