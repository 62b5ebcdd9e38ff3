/** `pipewright show <run>`: one run with its steps, errors, warnings and artifacts. */
import { existsSync } from 'node:fs';
import type { GlobalOptions } from '../main.js';
import { withProjectStore } from '../project-session.js';
import { EXIT } from '../exit-codes.js';
import { resolveRun } from '../resolve-run.js';
import {
  artifactToJson,
  deliveryToJson,
  runToJson,
  stepAttemptToJson,
  type RunDetailJson,
} from '../json-output.js';
import { styleFor } from '../style.js';
import { orphanNote } from '../run-liveness.js';
import { renderRunDetail, runDetailOutput, type RunDetailNotes } from '../run-view.js';
import { connect } from '../remote/connection.js';
import { resolveRemoteRun } from '../remote/remote-runs.js';

export async function showCommand(
  globals: GlobalOptions,
  idOrPrefix: string,
  options: { json?: boolean },
): Promise<number> {
  const client = await connect(globals);
  const { detail, notes } = client
    ? remoteDetail(await resolveRemoteRun(client, idOrPrefix))
    : await withProjectStore(globals, async ({ store }) => {
        const run = await resolveRun(store, idOrPrefix);
        const attempts = await store.listStepAttempts(run.id);
        const artifacts = await store.listArtifacts(run.id);
        const deliveries = await store.listDeliveries({ runId: run.id, limit: 1000 });
        const detail: RunDetailJson = {
          ...runToJson(run),
          steps: attempts.map(stepAttemptToJson),
          artifacts: artifacts.map(artifactToJson),
          deliveries: deliveries.map(deliveryToJson),
        };
        const notes: RunDetailNotes = {
          workspaceExists: run.workspace === undefined ? undefined : existsSync(run.workspace),
          orphan: orphanNote(run),
        };
        return { detail, notes };
      });
  if (options.json) {
    process.stdout.write(`${JSON.stringify(detail, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(renderRunDetail(detail, styleFor(process.stdout), notes));
  return EXIT.ok;
}

/** Whether the workspace still exists cannot be seen from here: it is on the server's machine. */
function remoteDetail(detail: RunDetailJson): { detail: RunDetailJson; notes: RunDetailNotes } {
  return {
    detail: runDetailOutput(detail),
    notes: {
      orphan: detail.orphaned
        ? `its process is gone; resume it on the server's machine with pipewright run --resume ${detail.id}`
        : undefined,
    },
  };
}
