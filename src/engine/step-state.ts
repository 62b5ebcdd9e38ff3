/**
 * What a step may record in the state store besides its attempt: the data-load ledger (`ctx.loads`)
 * and its incremental high-water mark (`ctx.incremental`), in a store-backed and an in-memory form, and
 * the end-of-run hook that commits the marks of a succeeded run.
 */
import type { DataLoadReport, DataLoads, IncrementalMarks, RunInfo } from '../core/step.js';
import type { IncrementalMarkCommit, StateStore } from '../store/state-store.js';

/** A data-load ledger kept in a list (tests, contexts without a store). */
export function memoryDataLoads(
  into: DataLoadReport[] = [],
  redact: (text: string) => string = (text) => text,
): DataLoads {
  return {
    record(load) {
      into.push(maskLoad(load, redact));
      return Promise.resolve();
    },
  };
}

/** The run's data-load ledger in the state store (`data_loads`). */
export function storeDataLoads(
  store: StateStore,
  run: Pick<RunInfo, 'id' | 'pipelineId'>,
  stepId: string,
  redact: (text: string) => string = (text) => text,
): DataLoads {
  return {
    async record(load) {
      const masked = maskLoad(load, redact);
      await store.recordDataLoad({
        runId: run.id,
        pipelineId: run.pipelineId,
        stepId,
        target: masked.target,
        source: masked.source,
        rows: masked.rows,
        bytes: masked.bytes,
        status: masked.status,
        message: masked.message,
        at: new Date(),
      });
    },
  };
}

function maskLoad(load: DataLoadReport, redact: (text: string) => string): DataLoadReport {
  const masked: DataLoadReport = { ...load, target: redact(load.target) };
  if (load.source !== undefined) masked.source = redact(load.source);
  if (load.message !== undefined) masked.message = redact(load.message);
  return masked;
}

/**
 * Incremental marks held in memory: `committed` by step id, and what this context proposed (a test
 * commits it by copying, as a succeeded run does).
 */
export function memoryIncremental(
  stepId: string,
  committed: Map<string, unknown>,
  proposed: Map<string, unknown>,
): IncrementalMarks {
  return {
    get: () => Promise.resolve(structuredClone(committed.get(stepId))),
    propose(value) {
      proposed.set(stepId, JSON.parse(JSON.stringify(value)) as unknown);
      return Promise.resolve();
    },
  };
}

/** The step's mark in the state store; a proposal carries the committed value it was based on. */
export function storeIncremental(
  store: StateStore,
  run: Pick<RunInfo, 'id' | 'pipelineId'>,
  stepId: string,
): IncrementalMarks {
  let base: { value: string | undefined } | undefined;
  return {
    async get() {
      const mark = await store.getIncrementalMark(run.pipelineId, stepId);
      base = { value: mark?.value };
      return mark === undefined ? undefined : (JSON.parse(mark.value) as unknown);
    },
    async propose(value) {
      // A step that proposes without reading first bases its proposal on the mark committed now.
      base ??= { value: (await store.getIncrementalMark(run.pipelineId, stepId))?.value };
      await store.proposeIncrementalMark({
        runId: run.id,
        pipelineId: run.pipelineId,
        stepId,
        base: base.value,
        value: JSON.stringify(value),
        at: new Date(),
      });
    },
  };
}

/**
 * Called once a run is recorded as succeeded: its proposed marks become the committed ones. A run that
 * proposed nothing costs one small query. Problems are reported through `warn`, never failing the run:
 * an uncommitted mark only means the next run reads the same window again.
 */
export async function commitIncrementalMarks(
  store: StateStore,
  runId: string,
  log: (level: 'info' | 'warn', message: string) => void,
): Promise<IncrementalMarkCommit[]> {
  try {
    const results = await store.commitIncrementalMarks(runId, new Date());
    for (const result of results) {
      if (result.status === 'committed') log('info', `incremental mark of step ${result.stepId} advanced`);
      else {
        log(
          'warn',
          `incremental mark of step ${result.stepId} not advanced: another run committed a newer mark meanwhile`,
        );
      }
    }
    return results;
  } catch (error) {
    log(
      'warn',
      `incremental marks were not committed (${(error as Error).message}); the next run reads the same rows again`,
    );
    return [];
  }
}
