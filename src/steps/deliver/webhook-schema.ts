/** The `with:` block of a `webhook` step. */
import { z } from 'zod';
import { durationSchema } from '../../core/spec/pipeline-schema.js';

export const webhookConfig = z
  .strictObject({
    url: z
      .string()
      .min(1)
      .describe(
        'Where to POST. Put tokens in secret references ("https://hooks.slack.com/services/${env:SLACK_HOOK}"); the ledger keeps no query string.',
      ),
    format: z
      .enum(['slack', 'json'])
      .optional()
      .describe(
        'slack: { text, blocks } for Slack and compatible chats; json: body as given. Default: json when body is set, else slack.',
      ),
    text: z.string().optional().describe('slack: the message text (mrkdwn), also the notification preview.'),
    blocks: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .describe('slack: Block Kit blocks; strings in them are templates too.'),
    body: z
      .union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.string()])
      .optional()
      .describe('json: the payload, as YAML (strings in it are templates) or as JSON text.'),
    secret: z
      .string()
      .min(1)
      .optional()
      .describe('Signs each request: X-Pipewright-Signature: sha256=HMAC(secret, "<timestamp>.<body>").'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name'), z.string())
      .optional()
      .describe('Extra request headers, e.g. Authorization: "Bearer ${env:TOKEN}".'),
    timeout: durationSchema.default('10s').describe('Longest wait for one answer (default 10s).'),
    attempts: z
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Attempts for timeouts, network errors, 429 and 5xx within the step (default 3).'),
    retry_delay: durationSchema
      .default('2s')
      .describe(
        'Wait before the second attempt, doubling after, unless Retry-After says otherwise (default 2s).',
      ),
  })
  .superRefine((config, context) => {
    const format = config.format ?? (config.body !== undefined ? 'json' : 'slack');
    if (format === 'json' && config.body === undefined) {
      context.addIssue({ code: 'custom', path: ['body'], message: 'format json needs a body' });
    }
    if (format === 'slack' && config.text === undefined && config.blocks === undefined) {
      context.addIssue({ code: 'custom', path: ['text'], message: 'format slack needs text or blocks' });
    }
    if (format === 'slack' && config.body !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['body'],
        message: 'body belongs to format json; use text and blocks',
      });
    }
    if (format === 'json' && (config.text !== undefined || config.blocks !== undefined)) {
      context.addIssue({
        code: 'custom',
        path: [config.text !== undefined ? 'text' : 'blocks'],
        message: 'text and blocks belong to format slack; put them into body for json',
      });
    }
  })
  .describe('POSTs a JSON message (Slack-compatible or your own) to a webhook, optionally signed.');

export type WebhookConfig = z.output<typeof webhookConfig>;
