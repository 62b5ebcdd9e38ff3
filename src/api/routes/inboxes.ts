/**
 * Inboxes: `POST /api/inboxes/:inbox/batches` receives a batch payload (see connectors/batch/). The
 * body is not parsed by Fastify: the route takes the raw stream (`rawBody`), refuses a declared
 * Content-Length over the inbox's limit at once and counts the rest while storing it. A token of scope
 * operate is needed, like triggering a run.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { PwError } from '../../core/errors/pw-error.js';
import { MB, receiveBatch } from '../../connectors/batch/receive-batch.js';
import { tooLarge } from '../../connectors/batch/spool-payload.js';
import type { RouteContext } from '../app.js';
import { defineRoute } from '../route.js';
import { problemSchema } from '../schemas.js';

export const batchAcceptedSchema = z.object({
  id: z.string(),
  inbox: z.string(),
  bytes: z.int().describe('Size of the raw payload'),
  files_accepted: z.int(),
  files: z.array(
    z.object({ filename: z.string(), stored_as: z.string(), size: z.int(), sha256: z.string() }),
  ),
  summary: z.string().describe('The processing summary file, relative to the project folder'),
  run_id: z.string().nullable().describe("The run of the inbox's pipeline queued for this batch"),
  run_error: z.string().nullable().describe('Why the pipeline could not be queued (the files are stored)'),
});

export function inboxRoutes(context: RouteContext) {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/inboxes/:inbox/batches',
      summary:
        'Receive a batch payload: store it durably, unpack its files into the inbox, queue its pipeline',
      scope: 'operate',
      rawBody: {
        contentType: 'application/json',
        description:
          '{ batch_metadata: { timestamp, source_folder, total_files, files: [{ filename, size, extension }] }, files: { <name>: { filename, size, extension, content_type, content: <base64> } } }',
      },
      responses: [
        { status: 201, description: 'Stored; the files and the queued run', schema: batchAcceptedSchema },
        { status: 400, description: 'The payload was refused (PW_BATCH_INVALID)', schema: problemSchema },
        { status: 404, description: 'No such inbox (PW_INBOX_NOT_FOUND)', schema: problemSchema },
        {
          status: 413,
          description: 'Larger than max_payload_mb (PW_REQUEST_TOO_LARGE)',
          schema: problemSchema,
        },
      ],
      handler: async ({ params, request, reply }) => {
        const name = params.inbox ?? '';
        const inboxes = context.project.spec.inboxes;
        const inbox = Object.hasOwn(inboxes, name) ? inboxes[name] : undefined;
        // The client may still be sending: close the connection after an early refusal.
        const refuse = (error: PwError) => {
          void reply.header('connection', 'close');
          (request.raw as Readable).resume();
          return error;
        };
        if (inbox === undefined) {
          const known = Object.keys(inboxes);
          throw refuse(
            new PwError('PW_INBOX_NOT_FOUND', `No inbox '${name}' is declared in pipewright.yaml`, {
              hint:
                known.length > 0
                  ? `Inboxes: ${known.join(', ')}.`
                  : 'Declare one under `inboxes:` in pipewright.yaml (docs/reference/inboxes.md).',
            }),
          );
        }
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > inbox.max_payload_mb * MB) {
          throw refuse(tooLarge(inbox.max_payload_mb * MB, `inbox '${name}'`));
        }
        try {
          const received = await receiveBatch({
            project: context.project,
            store: context.store,
            inboxName: name,
            inbox,
            body: request.body as Readable,
            now: context.clock(),
          });
          void reply.code(201);
          return {
            id: received.id,
            inbox: name,
            bytes: received.bytes,
            files_accepted: received.result.files.length,
            files: received.result.files.map((file) => ({
              filename: file.name,
              stored_as: file.storedAs,
              size: file.bytes,
              sha256: file.sha256,
            })),
            summary: received.result.summaryPath.slice(context.project.dir.length + 1),
            run_id: received.runId ?? null,
            run_error: received.runError ?? null,
          };
        } catch (error) {
          if (error instanceof PwError && error.code === 'PW_REQUEST_TOO_LARGE') throw refuse(error);
          throw error;
        }
      },
    }),
  ];
}
