/**
 * The default notification message, in every shape a notification needs: a subject, plain text, HTML
 * for e-mail, Slack `text`/`blocks`, and a JSON document for other receivers. It says which pipeline,
 * which run and what triggered it, how it ended, the failed step, the error with its hint, the last
 * lines of the run log (already redacted by the run log), and links to the run when the service has a
 * `service.base_url`.
 */
import { DateTime } from 'luxon';
import { formatDuration } from '../core/duration.js';
import type { LogEntry } from '../store/state-store.js';

export type NotificationEvent = 'run.failed' | 'run.succeeded' | 'pipeline.overdue';

export interface NotificationFacts {
  event: NotificationEvent;
  pipelineId: string;
  description?: string | undefined;
  timezone: string;
  run?:
    | {
        id: string;
        status: string;
        trigger: string;
        attempt: number;
        scheduledFor: Date;
        startedAt?: Date | undefined;
        finishedAt?: Date | undefined;
      }
    | undefined;
  error?:
    { code: string; message: string; hint?: string | undefined; stepId?: string | undefined } | undefined;
  /** The dead-man check: the window and the last success (undefined: never). */
  overdue?: { window: string; lastSuccess: Date | undefined; checkedAt: Date } | undefined;
  log: readonly LogEntry[];
  /** `<base_url>/runs/<id>` (or `<base_url>/pipelines/<id>` for the dead-man check). */
  url?: string | undefined;
}

export interface NotificationMessage {
  subject: string;
  text: string;
  html: string;
  slack: { text: string; blocks: Record<string, unknown>[] };
  json: Record<string, unknown>;
}

/** How many log lines a notification shows. */
export const NOTIFICATION_LOG_LINES = 20;
const SLACK_SECTION_LIMIT = 2900;

export function runUrl(baseUrl: string | undefined, runId: string): string | undefined {
  return baseUrl === undefined
    ? undefined
    : `${baseUrl.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
}

export function pipelineUrl(baseUrl: string | undefined, pipelineId: string): string | undefined {
  return baseUrl === undefined
    ? undefined
    : `${baseUrl.replace(/\/+$/, '')}/pipelines/${encodeURIComponent(pipelineId)}`;
}

export function defaultSubject(facts: NotificationFacts): string {
  if (facts.event === 'pipeline.overdue')
    return `[Pipewright] ${facts.pipelineId}: no successful run within ${facts.overdue?.window ?? '?'}`;
  if (facts.event === 'run.succeeded') return `[Pipewright] ${facts.pipelineId} succeeded`;
  const step = facts.error?.stepId ? ` in step ${facts.error.stepId}` : '';
  return `[Pipewright] ${facts.pipelineId} failed: ${facts.error?.code ?? 'error'}${step}`;
}

function headline(facts: NotificationFacts): string {
  if (facts.event === 'pipeline.overdue') {
    const last = facts.overdue?.lastSuccess;
    return `Pipeline ${facts.pipelineId} has had no successful run within ${facts.overdue?.window ?? '?'} (expect.success_within); ${last ? `the last one finished ${when(last, facts.timezone)}` : 'no run has ever succeeded'}.`;
  }
  if (facts.event === 'run.succeeded') return `Pipeline ${facts.pipelineId} succeeded.`;
  return `Pipeline ${facts.pipelineId} failed${facts.error?.stepId ? ` in step ${facts.error.stepId}` : ''}.`;
}

function when(date: Date, zone: string): string {
  const local = DateTime.fromJSDate(date, { zone });
  return local.isValid ? local.toFormat('yyyy-MM-dd HH:mm:ss ZZZZ') : date.toISOString();
}

/** The label/value rows shared by the text, HTML and Slack forms. */
function rows(facts: NotificationFacts): Array<[string, string]> {
  const out: Array<[string, string]> = [['Pipeline', facts.pipelineId]];
  const run = facts.run;
  if (run) {
    out.push(['Run', `${run.id}${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}`]);
    out.push(['Status', run.status]);
    out.push(['Trigger', run.trigger]);
    out.push(['Scheduled for', when(run.scheduledFor, facts.timezone)]);
    if (run.startedAt) out.push(['Started', when(run.startedAt, facts.timezone)]);
    if (run.finishedAt) {
      const took = run.startedAt
        ? ` (${formatDuration(run.finishedAt.getTime() - run.startedAt.getTime())})`
        : '';
      out.push(['Finished', `${when(run.finishedAt, facts.timezone)}${took}`]);
    }
  }
  if (facts.overdue) {
    out.push(['Expected', `a successful run within ${facts.overdue.window}`]);
    out.push([
      'Last success',
      facts.overdue.lastSuccess ? when(facts.overdue.lastSuccess, facts.timezone) : 'never',
    ]);
    out.push(['Checked', when(facts.overdue.checkedAt, facts.timezone)]);
  }
  if (facts.error?.stepId) out.push(['Failed step', facts.error.stepId]);
  return out;
}

function logLine(entry: LogEntry, zone: string): string {
  const local = DateTime.fromJSDate(entry.at, { zone });
  const time = local.isValid ? local.toFormat('HH:mm:ss') : entry.at.toISOString().slice(11, 19);
  return `${time} ${entry.level.padEnd(5)} ${entry.stepId ? `[${entry.stepId}] ` : ''}${entry.message}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Slack mrkdwn needs only &, < and > escaped. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `…${text.slice(text.length - limit + 1)}`;
}

export function buildMessage(facts: NotificationFacts, subject = defaultSubject(facts)): NotificationMessage {
  const table = rows(facts);
  const log = facts.log.slice(-NOTIFICATION_LOG_LINES).map((entry) => logLine(entry, facts.timezone));
  const width = Math.max(...table.map(([label]) => label.length)) + 2;
  const error = facts.error;

  const text = [
    headline(facts),
    '',
    ...table.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`),
    ...(error
      ? [
          `${'Error:'.padEnd(width)}${error.code}: ${error.message.replace(/\n/g, `\n${' '.repeat(width)}`)}`,
          ...(error.hint ? [`${'Hint:'.padEnd(width)}${error.hint}`] : []),
        ]
      : []),
    ...(facts.url ? [`${'Details:'.padEnd(width)}${facts.url}`] : []),
    ...(log.length > 0 ? ['', `Last ${log.length} log line${log.length === 1 ? '' : 's'}:`, ...log] : []),
    '',
  ].join('\n');

  const cell = 'padding: 2px 12px 2px 0; vertical-align: top;';
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"></head>',
    '<body style="font-family: -apple-system, \'Segoe UI\', Helvetica, Arial, sans-serif; font-size: 14px; color: #1f2328;">',
    `<p style="font-size: 16px;"><strong>${escapeHtml(headline(facts))}</strong></p>`,
    '<table style="border-collapse: collapse;">',
    ...table.map(
      ([label, value]) =>
        `<tr><th style="${cell} text-align: left; color: #59636e;">${escapeHtml(label)}</th><td style="${cell}">${escapeHtml(value)}</td></tr>`,
    ),
    ...(error
      ? [
          `<tr><th style="${cell} text-align: left; color: #59636e;">Error</th><td style="${cell}"><code>${escapeHtml(error.code)}</code> <span style="white-space: pre-wrap;">${escapeHtml(error.message)}</span></td></tr>`,
          ...(error.hint
            ? [
                `<tr><th style="${cell} text-align: left; color: #59636e;">Hint</th><td style="${cell}">${escapeHtml(error.hint)}</td></tr>`,
              ]
            : []),
        ]
      : []),
    '</table>',
    ...(facts.url ? [`<p><a href="${escapeHtml(facts.url)}">Open the run in Pipewright</a></p>`] : []),
    ...(log.length > 0
      ? [
          `<p style="margin-bottom: 4px;">Last ${log.length} log line${log.length === 1 ? '' : 's'}:</p>`,
          `<pre style="font-size: 12px; background: #f6f8fa; padding: 8px; white-space: pre-wrap;">${escapeHtml(log.join('\n'))}</pre>`,
        ]
      : []),
    '</body></html>',
    '',
  ].join('\n');

  const icon =
    facts.event === 'run.succeeded'
      ? ':white_check_mark:'
      : facts.event === 'run.failed'
        ? ':x:'
        : ':warning:';
  const slackHeadline = `${icon} ${escapeSlack(headline(facts))}${facts.url ? ` <${facts.url}|Open the run>` : ''}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: { type: 'mrkdwn', text: slackHeadline } },
    {
      type: 'section',
      fields: table.slice(0, 10).map(([label, value]) => ({
        type: 'mrkdwn',
        text: `*${escapeSlack(label)}*\n${escapeSlack(value)}`,
      })),
    },
  ];
  if (error) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*Error* \`${error.code}\`\n\`\`\`${escapeSlack(error.message)}\`\`\``,
          SLACK_SECTION_LIMIT,
        ),
      },
    });
    if (error.hint)
      blocks.push({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `Hint: ${escapeSlack(error.hint)}` }],
      });
  }
  if (log.length > 0) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Last log lines*\n\`\`\`${truncate(escapeSlack(log.join('\n')), SLACK_SECTION_LIMIT - 40)}\`\`\``,
      },
    });
  }

  const json: Record<string, unknown> = {
    text: `${headline(facts)}${error ? ` ${error.code}: ${error.message.split('\n')[0]}` : ''}${facts.url ? ` ${facts.url}` : ''}`,
    event: facts.event,
    pipeline: facts.pipelineId,
    run: facts.run
      ? {
          id: facts.run.id,
          status: facts.run.status,
          trigger: facts.run.trigger,
          attempt: facts.run.attempt,
          scheduled_for: facts.run.scheduledFor.toISOString(),
          started_at: facts.run.startedAt?.toISOString() ?? null,
          finished_at: facts.run.finishedAt?.toISOString() ?? null,
        }
      : null,
    error: error
      ? { code: error.code, message: error.message, hint: error.hint ?? null, step: error.stepId ?? null }
      : null,
    ...(facts.overdue
      ? {
          expect: {
            success_within: facts.overdue.window,
            last_success: facts.overdue.lastSuccess?.toISOString() ?? null,
            checked_at: facts.overdue.checkedAt.toISOString(),
          },
        }
      : {}),
    log: facts.log.slice(-NOTIFICATION_LOG_LINES).map((entry) => ({
      at: entry.at.toISOString(),
      level: entry.level,
      step: entry.stepId ?? null,
      message: entry.message,
    })),
    url: facts.url ?? null,
  };

  return { subject, text, html, slack: { text: slackHeadline, blocks }, json };
}
