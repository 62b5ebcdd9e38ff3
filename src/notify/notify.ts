/**
 * Pipeline notifications: `on_failure` and `on_success` (a pipeline's own, else the project's
 * `notifications:` defaults), sent by the engine once the end of a run is recorded, and the dead-man
 * notice of `expect.success_within`, sent by the scheduler through `on_failure`.
 *
 * A notification never changes a run: every failure (a missing secret, a bad template, a refused
 * login, an unreachable webhook) is caught, logged and recorded in the deliveries ledger, and the
 * others are still sent. A cancelled run sends nothing: someone chose to stop it.
 */
import { hostname } from 'node:os';
import { toPwError } from '../core/errors/pw-error.js';
import { parseDuration } from '../core/duration.js';
import { renderConfig, type Redactor } from '../core/secrets.js';
import type { NotificationSpec, PipelineSpec } from '../core/spec/pipeline-schema.js';
import type { ProjectSpec } from '../core/spec/project-schema.js';
import type { Scope } from '../core/template/render.js';
import type { ConnectionDefinitions } from '../engine/connections.js';
import { resolveConnection } from '../engine/connections.js';
import type { DeliveryEvent, LogEntry, RunRecord, StateStore } from '../store/state-store.js';
import { addressList, attemptsOf, displayUrl } from '../steps/deliver/deliver-common.js';
import { SMTP_CONNECTION_TYPE, parseSmtpConnection } from '../steps/deliver/email-connection.js';
import { OUTBOX_DIR, OUTBOX_FROM } from '../steps/deliver/email.js';
import { newMessageId, sendEmail } from '../steps/deliver/email-send.js';
import { sendWebhook } from '../steps/deliver/webhook-send.js';
import { deliveryLedger } from './ledger.js';
import {
  buildMessage,
  defaultSubject,
  pipelineUrl,
  runUrl,
  type NotificationFacts,
  type NotificationMessage,
} from './message.js';
import { relative, resolve } from 'node:path';

/** Longest time all notifications of one event may take together. */
export const NOTIFICATION_BUDGET_MS = 2 * 60_000;

export interface NotifyContext {
  projectDir: string;
  project: ProjectSpec;
  store: StateStore;
  env: Readonly<Record<string, string | undefined>>;
  /** Masks secrets; the run's own redactor, so notification secrets are masked in its log too. */
  redactor: Redactor;
  /** Where progress and failures are written (the run log, or the service log for the dead-man check). */
  log: (level: 'info' | 'warn', message: string) => void;
  signal?: AbortSignal | undefined;
  /** Base wait between attempts (default 2 s); tests make it short. */
  retryDelayMs?: number | undefined;
}

export interface NotificationOutcome {
  kind: 'email' | 'webhook';
  target: string;
  status: 'sent' | 'outbox' | 'failed';
  error?: string | undefined;
}

/** The notifications a pipeline sends for an event: its own list, else the project's default. */
export function notificationsFor(
  pipeline: PipelineSpec,
  project: ProjectSpec,
  which: 'on_failure' | 'on_success',
): readonly NotificationSpec[] {
  return pipeline[which] ?? project.notifications[which] ?? [];
}

export interface RunNotificationInput extends NotifyContext {
  pipeline: PipelineSpec;
  /** The run as recorded at its end (status, finishedAt, redacted error). */
  run: RunRecord;
  timezone: string;
  /** The run's last log lines (already redacted). */
  log_tail: readonly LogEntry[];
}

/** Sends the run's on_failure or on_success notifications; never throws. */
export async function sendRunNotifications(input: RunNotificationInput): Promise<NotificationOutcome[]> {
  const { run, pipeline } = input;
  if (run.status !== 'failed' && run.status !== 'succeeded') return [];
  const which = run.status === 'failed' ? 'on_failure' : 'on_success';
  const list = notificationsFor(pipeline, input.project, which);
  if (list.length === 0) return [];
  const url = runUrl(input.project.service.base_url, run.id);
  const facts: NotificationFacts = {
    event: run.status === 'failed' ? 'run.failed' : 'run.succeeded',
    pipelineId: pipeline.id,
    description: pipeline.description,
    timezone: input.timezone,
    run: {
      id: run.id,
      status: run.status,
      trigger: run.trigger,
      attempt: run.attempt,
      scheduledFor: run.scheduledFor,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
    },
    error: run.error && {
      ...run.error,
      message: input.redactor.redact(run.error.message),
      hint: run.error.hint === undefined ? undefined : input.redactor.redact(run.error.hint),
    },
    log: input.log_tail,
    url,
  };
  const scope: Scope = {
    params: run.params,
    run: {
      id: run.id,
      pipeline: pipeline.id,
      status: run.status,
      trigger: run.trigger,
      attempt: run.attempt,
      scheduled_for: run.scheduledFor,
      started_at: run.startedAt ?? run.queuedAt,
      finished_at: run.finishedAt ?? new Date(),
      timezone: input.timezone,
    },
    ...(facts.error
      ? {
          error: {
            code: facts.error.code,
            message: facts.error.message,
            hint: facts.error.hint ?? '',
            step: facts.error.stepId ?? '',
          },
        }
      : {}),
    url: url ?? '',
  };
  return sendAll(input, list, which, facts, scope, {
    runId: run.id,
    stem: `${run.id}-${which}`,
    timezone: input.timezone,
  });
}

export interface OverdueNotificationInput extends NotifyContext {
  pipeline: PipelineSpec;
  window: string;
  lastSuccess: Date | undefined;
  now: Date;
}

/** Sends the dead-man notice (`expect.success_within` missed) through on_failure; never throws. */
export async function sendOverdueNotifications(
  input: OverdueNotificationInput,
): Promise<NotificationOutcome[]> {
  const list = notificationsFor(input.pipeline, input.project, 'on_failure');
  if (list.length === 0) return [];
  const timezone = input.pipeline.timezone ?? input.pipeline.schedule?.timezone ?? input.project.timezone;
  const url = pipelineUrl(input.project.service.base_url, input.pipeline.id);
  const facts: NotificationFacts = {
    event: 'pipeline.overdue',
    pipelineId: input.pipeline.id,
    description: input.pipeline.description,
    timezone,
    overdue: { window: input.window, lastSuccess: input.lastSuccess, checkedAt: input.now },
    log: [],
    url,
  };
  const scope: Scope = {
    run: { pipeline: input.pipeline.id, status: 'overdue', timezone },
    expect: { success_within: input.window, last_success: input.lastSuccess ?? '' },
    url: url ?? '',
  };
  const stamp = input.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return sendAll(input, list, 'expect', facts, scope, {
    runId: undefined,
    stem: `${input.pipeline.id}-expect-${stamp}`,
    timezone,
  });
}

async function sendAll(
  context: NotifyContext & { pipeline: PipelineSpec },
  list: readonly NotificationSpec[],
  event: DeliveryEvent,
  facts: NotificationFacts,
  scope: Scope,
  where: { runId: string | undefined; stem: string; timezone: string },
): Promise<NotificationOutcome[]> {
  const budget = AbortSignal.timeout(NOTIFICATION_BUDGET_MS);
  const signal = context.signal ? AbortSignal.any([context.signal, budget]) : budget;
  const ledger = deliveryLedger(
    context.store,
    { runId: where.runId, pipelineId: facts.pipelineId, event },
    (text) => context.redactor.redact(text),
  );
  const outcomes: NotificationOutcome[] = [];
  for (const [index, entry] of list.entries()) {
    const path = `${event === 'expect' ? 'on_failure' : event}[${index}]`;
    const kind = entry.email !== undefined ? 'email' : 'webhook';
    let target =
      kind === 'email' ? addressList(entry.email?.to).join(', ') : displayUrl(entry.webhook?.url ?? '');
    let subject: string | undefined;
    let outcome: NotificationOutcome;
    let messageId: string | undefined;
    let attempts = 0;
    let written: string | undefined;
    try {
      // Templates and secret references of the entry, with the run's redactor (so they are masked).
      const rendered = renderConfig(entry, scope, {
        timezone: where.timezone,
        env: context.env,
        projectDir: context.projectDir,
        redactor: context.redactor,
        path,
      });
      if (rendered.email !== undefined) {
        const spec = rendered.email;
        subject = spec.subject ?? defaultSubject(facts);
        const message = buildMessage(facts, subject);
        const result = await notifyByEmail(context, spec, message, where.stem, signal);
        target = result.target;
        messageId = result.messageId;
        attempts = result.attempts;
        written = result.path;
        outcome = { kind, target, status: result.status };
      } else if (rendered.webhook !== undefined) {
        const spec = rendered.webhook;
        target = displayUrl(spec.url);
        const message = buildMessage(facts);
        subject = message.subject;
        const body = JSON.stringify(spec.format === 'slack' ? message.slack : message.json);
        const result = await sendWebhook({
          url: spec.url,
          body,
          headers: spec.headers,
          secret: spec.secret,
          timeoutMs: parseDuration(spec.timeout) ?? 10_000,
          attempts: spec.attempts,
          retryDelayMs: context.retryDelayMs ?? 2_000,
          signal,
          onRetry: (attempt, wait, reason) =>
            context.log('warn', `notification ${path}: ${reason}; attempt ${attempt} in ${wait} ms`),
        });
        messageId = result.deliveryId;
        attempts = result.attempts;
        outcome = { kind, target, status: 'sent' };
      } else {
        continue;
      }
      await ledger
        .record({ kind, target, subject, messageId, status: outcome.status, attempts })
        .catch((error: unknown) =>
          context.log('warn', `notification ${path}: could not be recorded: ${toPwError(error).message}`),
        );
      context.log(
        'info',
        outcome.status === 'outbox'
          ? `notification ${path} (${kind}) to ${target} written to ${written === undefined ? `${OUTBOX_DIR}/` : relative(context.projectDir, written)} (no connection given)`
          : `notification ${path} (${kind}) sent to ${target}${attempts > 1 ? ` on attempt ${attempts}` : ''}`,
      );
    } catch (error) {
      const failure = toPwError(error);
      const message = context.redactor.redact(failure.message);
      outcome = { kind, target, status: 'failed', error: `${failure.code}: ${message}` };
      await ledger
        .record({
          kind,
          target,
          subject,
          messageId,
          status: 'failed',
          attempts: attemptsOf(error, attempts),
          error: `${failure.code}: ${message}`,
        })
        .catch((recordError: unknown) =>
          context.log(
            'warn',
            `notification ${path}: could not be recorded: ${toPwError(recordError).message}`,
          ),
        );
      context.log('warn', `notification ${path} (${kind}) to ${target} failed: ${failure.code} ${message}`);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

async function notifyByEmail(
  context: NotifyContext,
  spec: NonNullable<NotificationSpec['email']>,
  message: NotificationMessage,
  stem: string,
  signal: AbortSignal,
): Promise<{
  status: 'sent' | 'outbox';
  target: string;
  messageId: string;
  attempts: number;
  path: string | undefined;
}> {
  const to = addressList(spec.to);
  const cc = addressList(spec.cc);
  let smtp;
  if (spec.connection !== undefined) {
    const raw = resolveConnection(
      context.project.connections as ConnectionDefinitions,
      spec.connection,
      [SMTP_CONNECTION_TYPE],
      (value, path) =>
        renderConfig(
          value,
          {},
          {
            timezone: 'UTC',
            env: context.env,
            projectDir: context.projectDir,
            redactor: context.redactor,
            path,
          },
        ),
    );
    smtp = { name: spec.connection, connection: parseSmtpConnection(spec.connection, raw) };
  }
  const from =
    spec.from ?? smtp?.connection.from ?? (smtp === undefined ? OUTBOX_FROM : `pipewright@${hostname()}`);
  const result = await sendEmail(
    {
      from,
      to,
      ...(cc.length > 0 ? { cc } : {}),
      subject: message.subject,
      messageId: newMessageId(from),
      text: message.text,
      html: message.html,
    },
    {
      smtp,
      outbox: { dir: resolve(context.projectDir, OUTBOX_DIR), stem },
      resolvePath: (path) => resolve(context.projectDir, path),
      signal,
      retryDelayMs: context.retryDelayMs ?? 2_000,
      onRetry: (attempt, wait, reason) =>
        context.log('warn', `notification e-mail: ${reason}; attempt ${attempt} in ${wait} ms`),
    },
  );
  return {
    status: result.status,
    target: [...to, ...cc].join(', '),
    messageId: result.messageId,
    attempts: result.attempts,
    path: result.path,
  };
}
