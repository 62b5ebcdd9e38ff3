// A user-written step: the same interface as the built-in ones. `config` receives zod so this file
// needs no imports; the step reads a dataset and writes its own dataset (named after the step id).
export default {
  kind: 'transform',
  description: 'Labels each row as dry, comfortable or humid from its humidity_pct column.',
  config: (z) =>
    z.strictObject({
      input: z.string().describe('Dataset with a humidity_pct column'),
      dry_below: z.number().default(40),
      humid_above: z.number().default(65),
    }),
  inputs: (config) => [config.input],
  async run(ctx, config) {
    const rows = await ctx.datasets.replaceOutput(async (table) => {
      await ctx.datasets.run(
        `CREATE TABLE ${table} AS
         SELECT *, CASE WHEN humidity_pct < $dry THEN 'dry'
                        WHEN humidity_pct > $humid THEN 'humid'
                        ELSE 'comfortable' END AS humidity_band
         FROM "${config.input.replaceAll('"', '""')}"`,
        { dry: config.dry_below, humid: config.humid_above },
      );
    });
    ctx.log.info(`labelled ${rows} rows`);
    return { rows };
  },
};
