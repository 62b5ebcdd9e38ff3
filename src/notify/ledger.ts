/**
 * The deliveries ledger as steps and notifications write to it: each report is masked of secrets,
 * stamped with its run, pipeline, step and event, and recorded in the state store.
 */
import type { Deliveries, DeliveryReport } from '../core/step.js';
import type { DeliveryEvent, StateStore } from '../store/state-store.js';

export interface LedgerScope {
  runId: string | undefined;
  pipelineId: string;
  stepId?: string | undefined;
  event: DeliveryEvent;
}

export function deliveryLedger(
  store: StateStore,
  scope: LedgerScope,
  redact: (text: string) => string = (text) => text,
): Deliveries {
  const mask = (text: string | undefined) => (text === undefined ? undefined : redact(text));
  return {
    async record(delivery: DeliveryReport): Promise<void> {
      await store.recordDelivery({
        runId: scope.runId,
        pipelineId: scope.pipelineId,
        stepId: scope.stepId,
        event: scope.event,
        kind: delivery.kind,
        target: redact(delivery.target),
        subject: mask(delivery.subject),
        messageId: delivery.messageId,
        status: delivery.status,
        attempts: delivery.attempts,
        error: mask(delivery.error),
        createdAt: new Date(),
      });
    },
  };
}
