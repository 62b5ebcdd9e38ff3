/**
 * The `webhook` step: POSTs one JSON message — Slack-compatible `{ text, blocks }` or a body of your
 * own — optionally signed with HMAC-SHA256, with a timeout and a few attempts (webhook-send.ts), and
 * records it in the deliveries ledger.
 */
import { defineStep } from '../../core/step.js';
import { toPwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import { attemptsOf, displayUrl, recordDelivery } from './deliver-common.js';
import { webhookConfig } from './webhook-schema.js';
import { parseJsonBody, sendWebhook } from './webhook-send.js';

export const webhookStep = defineStep({
  type: 'webhook',
  kind: 'deliver',
  description:
    'POSTs a JSON message (Slack-compatible text/blocks or your own body) to a URL, optionally signed.',
  config: webhookConfig,
  producesDataset: false,
  async run(ctx, config) {
    const format = config.format ?? (config.body !== undefined ? 'json' : 'slack');
    const target = displayUrl(config.url);
    const summary = format === 'slack' ? (config.text ?? '(blocks)') : undefined;
    let body: string;
    try {
      const payload =
        format === 'slack'
          ? {
              ...(config.text === undefined ? {} : { text: config.text }),
              ...(config.blocks === undefined ? {} : { blocks: config.blocks }),
            }
          : typeof config.body === 'string'
            ? parseJsonBody(config.body, 'with.body')
            : config.body;
      body = JSON.stringify(payload);
    } catch (error) {
      await recordDelivery(ctx, {
        kind: 'webhook',
        target,
        subject: summary,
        status: 'failed',
        attempts: 0,
        error: toPwError(error).message,
      });
      throw error;
    }

    let result;
    try {
      result = await sendWebhook({
        url: config.url,
        body,
        headers: config.headers,
        secret: config.secret,
        timeoutMs: parseDuration(config.timeout) ?? 10_000,
        attempts: config.attempts,
        retryDelayMs: parseDuration(config.retry_delay) ?? 2_000,
        signal: ctx.signal,
        onRetry: (attempt, wait, reason) =>
          ctx.log.warn(`${reason}; attempt ${attempt} of ${config.attempts} in ${wait} ms`),
      });
    } catch (error) {
      const failure = toPwError(error);
      if (failure.code !== 'PW_CANCELLED') {
        await recordDelivery(ctx, {
          kind: 'webhook',
          target,
          subject: summary,
          status: 'failed',
          attempts: attemptsOf(error),
          error: failure.message,
        });
      }
      throw error;
    }
    await recordDelivery(ctx, {
      kind: 'webhook',
      target,
      subject: summary,
      messageId: result.deliveryId,
      status: 'sent',
      attempts: result.attempts,
    });
    ctx.log.info(
      `webhook ${target} answered HTTP ${result.status}${result.attempts > 1 ? ` on attempt ${result.attempts}` : ''}`,
      { delivery_id: result.deliveryId, bytes: Buffer.byteLength(body) },
    );
    return {
      bytes: Buffer.byteLength(body),
      outputs: {
        status: 'sent',
        http_status: result.status,
        delivery_id: result.deliveryId,
        attempts: result.attempts,
      },
    };
  },
});
