/**
 * The `email` step: one message to its recipients, through the project's SMTP connection, or into
 * `outbox/` as an `.eml` file when the step names no connection (the embedded default: nothing leaves
 * the machine until a connection is configured).
 *
 * The body is Markdown, or the `report.html` artifact of a report step (`html_from`); either way every
 * image becomes an inline PNG (see email-html.ts), and a plain-text alternative is derived unless one
 * is given. Attachments come from the run's artifacts or the project folder, and together must stay
 * under `max_attachment_bytes`. Every message, sent or not, is recorded in the deliveries ledger.
 */
import { stat } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import type { Attachment, SendMailOptions } from 'nodemailer';
import { defineStep, type RunArtifact, type StepContext } from '../../core/step.js';
import { PwError, toPwError } from '../../core/errors/pw-error.js';
import { parseDuration } from '../../core/duration.js';
import { readFile } from 'node:fs/promises';
import { listQuoted } from '../../core/spec/hints.js';
import { addressList, attemptsOf, formatBytes, parseByteSize, recordDelivery } from './deliver-common.js';
import { SMTP_CONNECTION_TYPE, parseSmtpConnection, serverLabel } from './email-connection.js';
import { contentTypeOf, htmlToText, inlineImages, markdownToHtml } from './email-html.js';
import { emailConfig, emailInputs, type AttachmentSpec, type EmailConfig } from './email-schema.js';
import {
  newMessageId,
  recipientsLabel,
  sendEmail,
  type EmailAddresses,
  type SmtpTarget,
} from './email-send.js';

/** Where messages go when no SMTP connection is given, relative to the project folder. */
export const OUTBOX_DIR = 'outbox';
export const OUTBOX_FROM = 'Pipewright <pipewright@localhost>';

interface ResolvedAttachment {
  filename: string;
  path: string;
  bytes: number;
  contentType: string;
  /** Where it came from, for messages: `report/report.pdf` or `out/hourly.csv`. */
  label: string;
}

export const emailStep = defineStep({
  type: 'email',
  kind: 'deliver',
  description:
    'Sends an e-mail (Markdown or a report as HTML, charts inline, artifacts attached) through an SMTP connection, or writes it to outbox/.',
  config: emailConfig,
  producesDataset: false,
  inputs: (config) => emailInputs(config),
  async run(ctx, config) {
    const to = addressList(config.to);
    const cc = addressList(config.cc);
    const bcc = addressList(config.bcc);
    const replyTo = addressList(config.reply_to);
    const recipients = recipientsLabel({ from: '', to, cc, bcc });
    const record = (report: {
      status: 'sent' | 'failed' | 'outbox';
      attempts: number;
      messageId?: string;
      error?: string;
    }) => recordDelivery(ctx, { kind: 'email', target: recipients, subject: config.subject, ...report });

    let smtp: SmtpTarget | undefined;
    let message: SendMailOptions & EmailAddresses;
    let counts: { attachments: number; images: number };
    try {
      smtp = smtpTarget(ctx, config);
      const from = config.from ?? smtp?.connection.from ?? (smtp === undefined ? OUTBOX_FROM : undefined);
      if (from === undefined) {
        throw new PwError('PW_SPEC_TYPE', 'The e-mail has no sender', {
          path: 'with.from',
          expected: 'from on the step, or from on the smtp connection',
          hint: `Add from: "Reports <reports@example.com>" to the step or to connection '${config.connection ?? ''}' in pipewright.yaml.`,
        });
      }
      const composed = await compose(ctx, config);
      counts = { attachments: composed.attachments.length - composed.images, images: composed.images };
      message = {
        from,
        to,
        ...(cc.length > 0 ? { cc } : {}),
        ...(bcc.length > 0 ? { bcc } : {}),
        ...(replyTo.length > 0 ? { replyTo } : {}),
        subject: config.subject,
        messageId: newMessageId(from),
        date: ctx.now(),
        headers: { 'X-Pipewright-Run': ctx.run.id, 'X-Pipewright-Pipeline': ctx.run.pipelineId },
        ...(composed.html === undefined ? {} : { html: composed.html }),
        text: composed.text,
        attachments: composed.attachments,
      };
    } catch (error) {
      await record({ status: 'failed', attempts: 0, error: toPwError(error).message });
      throw error;
    }

    let result;
    try {
      result = await sendEmail(message, {
        smtp,
        outbox: { dir: ctx.resolvePath(OUTBOX_DIR), stem: `${ctx.run.id}-${ctx.stepId}` },
        resolvePath: (path) => ctx.resolvePath(path),
        signal: ctx.signal,
        attempts: config.attempts,
        retryDelayMs: parseDuration(config.retry_delay) ?? 2_000,
        onRetry: (attempt, wait, reason) =>
          ctx.log.warn(`${reason}; attempt ${attempt} of ${config.attempts} in ${wait} ms`),
      });
    } catch (error) {
      const failure = toPwError(error);
      if (failure.code !== 'PW_CANCELLED')
        await record({
          status: 'failed',
          attempts: attemptsOf(error),
          messageId: String(message.messageId),
          error: failure.message,
        });
      throw error;
    }

    const warnings: string[] = [];
    if (result.rejected.length > 0) {
      warnings.push(`the server refused ${result.rejected.join(', ')}; the other recipients got the message`);
    }
    await record({
      status: result.status,
      attempts: result.attempts,
      messageId: result.messageId,
      ...(warnings.length > 0 ? { error: warnings.join('; ') } : {}),
    });
    const shown = result.path === undefined ? undefined : relative(ctx.projectDir, result.path);
    if (result.status === 'outbox') {
      ctx.log.info(
        `e-mail "${config.subject}" to ${recipients} written to ${shown} (no connection given, so nothing was sent)`,
        { message_id: result.messageId, path: shown },
      );
    } else {
      ctx.log.info(
        `e-mail "${config.subject}" sent to ${recipients}${smtp === undefined ? '' : ` via ${serverLabel(smtp.connection)}`}${result.attempts > 1 ? ` on attempt ${result.attempts}` : ''}`,
        { message_id: result.messageId, response: result.response },
      );
    }
    for (const warning of warnings) ctx.log.warn(warning);
    return {
      outputs: {
        status: result.status,
        message_id: result.messageId,
        recipients: to.length + cc.length + bcc.length,
        attachments: counts.attachments,
        inline_images: counts.images,
        attempts: result.attempts,
        ...(shown === undefined ? {} : { path: shown }),
      },
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  },
});

function smtpTarget(ctx: StepContext, config: EmailConfig): SmtpTarget | undefined {
  if (config.connection === undefined) return undefined;
  const raw = ctx.connection(config.connection, [SMTP_CONNECTION_TYPE]);
  return { name: config.connection, connection: parseSmtpConnection(config.connection, raw) };
}

interface Composed {
  html?: string | undefined;
  text: string;
  attachments: Attachment[];
  images: number;
}

async function compose(ctx: StepContext, config: EmailConfig): Promise<Composed> {
  const artifacts = await ctx.artifacts.list();
  let html: string | undefined;
  if (config.html_from !== undefined) html = await readReportHtml(config.html_from, artifacts);
  else if (config.body !== undefined) html = await markdownToHtml(config.body);

  const attachments: Attachment[] = [];
  let images = 0;
  if (html !== undefined) {
    const inlined = await inlineImages(html, { artifacts, preferStep: config.html_from });
    html = inlined.html;
    images = inlined.images.length;
    for (const warning of inlined.warnings) ctx.log.warn(warning);
    for (const image of inlined.images) {
      attachments.push({
        filename: image.filename,
        content: image.content,
        contentType: image.contentType,
        cid: image.cid,
        contentDisposition: 'inline',
      });
    }
  }

  const files = await resolveAttachments(ctx, config.attach ?? [], artifacts);
  const limit = parseByteSize(config.max_attachment_bytes) ?? 10_000_000;
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  if (total > limit) {
    const list = files
      .slice()
      .sort((a, b) => b.bytes - a.bytes)
      .map((file) => `${file.label} ${formatBytes(file.bytes)}`)
      .join(', ');
    throw new PwError(
      'PW_ATTACHMENTS_TOO_LARGE',
      `The attachments total ${formatBytes(total)} (${total} bytes), over the limit of ${formatBytes(limit)} (${limit} bytes): ${list}`,
      {
        path: 'with.attach',
        expected: `at most ${limit} bytes in all`,
        found: `${total} bytes`,
        hint: 'Attach fewer or smaller files (Parquet instead of CSV, a compressed CSV), link to them instead, or raise max_attachment_bytes if the mail servers on the way accept larger messages.',
      },
    );
  }
  for (const file of files) {
    attachments.push({ filename: file.filename, path: file.path, contentType: file.contentType });
  }
  const text = config.text ?? (html === undefined ? '' : htmlToText(html));
  return { html, text, attachments, images };
}

async function readReportHtml(stepId: string, artifacts: readonly RunArtifact[]): Promise<string> {
  const own = artifacts.filter((artifact) => artifact.stepId === stepId);
  const html =
    own.find((artifact) => artifact.name === 'report.html') ??
    (own.filter((artifact) => /\.html?$/i.test(artifact.name)).length === 1
      ? own.find((artifact) => /\.html?$/i.test(artifact.name))
      : undefined);
  if (html === undefined) {
    throw new PwError('PW_INPUT_NOT_FOUND', `Step '${stepId}' registered no report.html artifact`, {
      path: 'with.html_from',
      expected: `an artifact report.html of step '${stepId}'`,
      found:
        own.length > 0
          ? listQuoted(
              own.map((artifact) => artifact.name),
              'and',
            )
          : 'no artifacts of that step',
      hint: 'Point html_from at the report step, and make sure it ran before this one (it does when html_from names it).',
    });
  }
  return readFile(html.path, 'utf8');
}

async function resolveAttachments(
  ctx: StepContext,
  specs: readonly AttachmentSpec[],
  artifacts: readonly RunArtifact[],
): Promise<ResolvedAttachment[]> {
  const out: ResolvedAttachment[] = [];
  for (const [index, spec] of specs.entries()) {
    const path = `with.attach[${index}]`;
    if (typeof spec !== 'string' && 'path' in spec) {
      const absolute = ctx.resolvePath(spec.path);
      const info = await stat(absolute).catch(() => undefined);
      if (info === undefined && spec.optional) {
        ctx.log.info(`not attached: ${spec.path} does not exist (optional)`);
        continue;
      }
      if (!info?.isFile()) {
        throw new PwError('PW_INPUT_NOT_FOUND', `Attachment ${spec.path} does not exist`, {
          path,
          expected: 'a file, relative to the project folder',
          found: info ? 'a folder' : 'nothing',
          hint: 'Check the path; templates in it are rendered before the step runs.',
        });
      }
      const filename = spec.filename ?? basename(absolute);
      out.push({
        filename,
        path: absolute,
        bytes: info.size,
        contentType: contentTypeOf(filename),
        label: spec.path,
      });
      continue;
    }
    const stepId = typeof spec === 'string' ? spec.slice(0, spec.indexOf('/')) : spec.step;
    const name = typeof spec === 'string' ? spec.slice(spec.indexOf('/') + 1) : spec.name;
    const own = artifacts.filter((artifact) => artifact.stepId === stepId);
    const chosen = name === undefined ? own : own.filter((artifact) => artifact.name === name);
    if (chosen.length === 0 && typeof spec !== 'string' && spec.optional) {
      ctx.log.info(
        `not attached: step '${stepId}' registered no ${name === undefined ? 'artifacts' : `'${name}'`} (optional)`,
      );
      continue;
    }
    if (chosen.length === 0) {
      throw new PwError(
        'PW_INPUT_NOT_FOUND',
        name === undefined
          ? `Step '${stepId}' registered no artifacts to attach`
          : `Step '${stepId}' registered no artifact named '${name}'`,
        {
          path,
          expected: `an artifact of step '${stepId}'`,
          found:
            own.length > 0
              ? listQuoted(
                  own.map((artifact) => artifact.name),
                  'and',
                )
              : 'no artifacts of that step',
          hint:
            typeof spec === 'string'
              ? `"${spec}" names an artifact as <step>/<name>; for a file of the project folder write { path: ${spec} }.`
              : 'Artifact names are file names such as report.pdf; `pipewright show <run>` lists them.',
        },
      );
    }
    for (const artifact of chosen) {
      const info = await stat(artifact.path).catch(() => undefined);
      if (!info?.isFile()) {
        throw new PwError(
          'PW_INPUT_NOT_FOUND',
          `The file of artifact ${stepId}/${artifact.name} is gone: ${artifact.path}`,
          {
            path,
            hint: 'It may have been deleted by artifact retention or by hand; run the step that makes it again.',
          },
        );
      }
      const filename = (typeof spec !== 'string' && spec.filename) || artifact.name;
      out.push({
        filename,
        path: artifact.path,
        bytes: info.size,
        contentType: artifact.contentType ?? contentTypeOf(artifact.name),
        label: `${stepId}/${artifact.name}`,
      });
    }
  }
  return out;
}
