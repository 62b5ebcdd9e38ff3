/** The `with:` block of an `email` step. */
import { z } from 'zod';
import { IDENTIFIER, durationSchema } from '../../core/spec/pipeline-schema.js';
import { byteSizeSchema, recipientsSchema } from './deliver-common.js';

export const DEFAULT_MAX_ATTACHMENT_BYTES = '10MB';

export const attachmentSchema = z.union([
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*\/.+$/, 'an artifact as "<step id>/<artifact name>"')
    .describe('An artifact of this run as "<step id>/<artifact name>", e.g. "report/report.pdf".'),
  z
    .strictObject({
      step: z.string().regex(IDENTIFIER, 'a step id').describe('The step that registered the artifact.'),
      name: z.string().min(1).optional().describe('The artifact name (default: every artifact of the step).'),
      filename: z.string().min(1).optional().describe('The file name the recipient sees (default: name).'),
      optional: z
        .boolean()
        .default(false)
        .describe(
          'Send without it when the step registered no such artifact (e.g. no PDF without Chromium).',
        ),
    })
    .describe('Artifacts of this run registered by a step.'),
  z
    .strictObject({
      path: z.string().min(1).describe('A file, relative to the project folder.'),
      filename: z.string().min(1).optional().describe('The file name the recipient sees.'),
      optional: z.boolean().default(false).describe('Send without it when the file does not exist.'),
    })
    .describe('A file of the project folder.'),
]);

export type AttachmentSpec = z.output<typeof attachmentSchema>;

export const emailConfig = z
  .strictObject({
    connection: z
      .string()
      .min(1)
      .optional()
      .describe(
        'An smtp connection of pipewright.yaml. Without one, the message is written to outbox/ in the project folder instead of being sent.',
      ),
    from: z
      .string()
      .min(1)
      .optional()
      .describe('Sender, e.g. "Reports <reports@example.com>" (default: the connection\'s from).'),
    to: recipientsSchema.describe('Recipients: an address, a comma-separated list, or a list.'),
    cc: recipientsSchema.optional(),
    bcc: recipientsSchema.optional(),
    reply_to: recipientsSchema.optional(),
    subject: z.string().min(1).describe('The subject line (a template, like every string here).'),
    body: z
      .string()
      .optional()
      .describe('The message as Markdown (HTML inside it passes through). Or use html_from.'),
    html_from: z
      .string()
      .regex(IDENTIFIER, 'a step id')
      .optional()
      .describe('A report step: its report.html artifact is the message, with charts inlined as PNG images.'),
    text: z
      .string()
      .optional()
      .describe('The plain-text alternative (default: derived from the HTML). Alone, a text-only message.'),
    attach: z
      .array(attachmentSchema)
      .optional()
      .describe('Files to attach: run artifacts ("report/report.pdf", { step, name }) or { path } files.'),
    max_attachment_bytes: byteSizeSchema
      .default(DEFAULT_MAX_ATTACHMENT_BYTES)
      .describe('Most bytes all attachments together may have, e.g. 10MB (default) or 25MiB.'),
    attempts: z
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('SMTP attempts for temporary errors (4xx, lost connection) within the step (default 3).'),
    retry_delay: durationSchema
      .default('2s')
      .describe('Wait before the second attempt, doubling after (default 2s).'),
  })
  .superRefine((config, context) => {
    if (config.body !== undefined && config.html_from !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['html_from'],
        message: 'give body or html_from, not both',
      });
    }
    if (config.body === undefined && config.html_from === undefined && config.text === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['body'],
        message: 'a message needs body, html_from or text',
      });
    }
  })
  .describe('Sends an e-mail through an SMTP connection (or into outbox/), with a report and attachments.');

export type EmailConfig = z.output<typeof emailConfig>;

/** The steps whose artifacts the message uses, so the DAG runs it after them. */
export function emailInputs(config: EmailConfig): string[] {
  const ids = new Set<string>();
  if (config.html_from !== undefined) ids.add(config.html_from);
  for (const entry of config.attach ?? []) {
    if (typeof entry === 'string') ids.add(entry.slice(0, entry.indexOf('/')));
    else if ('step' in entry) ids.add(entry.step);
  }
  return [...ids];
}
