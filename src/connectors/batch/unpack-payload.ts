/**
 * The one streaming reader of batch payloads, shared by the inbox route and `batch.unpack`:
 * `{ batch_metadata: { timestamp, source_folder, total_files, files: [{ filename, size, extension }] },
 *    files: { <name>: { filename, size, extension, content_type, content: <base64> } } }`.
 *
 * The JSON is tokenised by stream-json with nothing packed, so no string is ever held whole: each
 * `content` is decoded piece by piece into a temporary file under `<storage>/.incoming/<id>.tmp/`,
 * and every other value is assembled into a small object under a budget (depth, key and string
 * lengths, total size), because stream-json itself is not meant for hostile input. Only when the whole
 * payload has been read and every check passed (names, extensions, sizes, count and sizes against
 * batch_metadata, content types against the first bytes) are the files moved into the storage folder
 * under `<YYYYMMDD-HHMMSS>_<name>` names, never replacing an existing file (hard links, which fail
 * when the name is taken). A refused payload leaves nothing in the storage folder.
 */
import { link, mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parser } from 'stream-json';
import { PwError } from '../../core/errors/pw-error.js';
import { Base64Error, Base64File, FileTooLargeError, type DecodedFile } from './base64-file.js';
import { contentProblem, extensionOf, extensionProblem, nameProblem } from './file-names.js';

export interface UnpackOptions {
  /** The inbox's storage folder; files land here, temporaries under its `.incoming/`. */
  storageDir: string;
  batchId: string;
  allowedTypes: readonly string[];
  maxFiles: number;
  maxFileBytes: number;
  /** Used for the timestamped names. */
  now: Date;
  /** Where the payload came from, for messages (`POST /api/inboxes/x/batches`, a file path). */
  source: string;
}

export interface StoredFile {
  name: string;
  /** The name in the storage folder. */
  storedAs: string;
  path: string;
  bytes: number;
  sha256: string;
  contentType: string;
}

export interface UnpackResult {
  batchId: string;
  files: StoredFile[];
  metadata: { timestamp?: string; source_folder?: string; batch_name?: string; total_files?: number };
  summaryPath: string;
}

const MAX_DEPTH = 16;
const MAX_KEY = 1024;
const MAX_STRING = 64 * 1024;
const MAX_ASSEMBLED = 8 * 1024 * 1024;
const MAX_ISSUES = 10;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json } | DecodedRef;

/** Stands for a decoded `content` string in the assembled object. */
class DecodedRef {
  constructor(readonly file: DecodedFile) {}
}

type Frame =
  | { kind: 'object'; value: Record<string, Json>; key: string | undefined; keys: Set<string> }
  | { kind: 'array'; value: Json[] };

function refuse(source: string, message: string, hint?: string): PwError {
  return new PwError('PW_BATCH_INVALID', `Batch payload from ${source} refused: ${message}`, {
    hint: hint ?? 'Nothing from this payload was stored. docs/reference/inboxes.md describes the format.',
  });
}

/** `YYYYMMDD-HHMMSS` in UTC. */
export function batchStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

const label = (name: string) => `files[${JSON.stringify(name)}]`;

export async function unpackPayload(input: Readable, options: UnpackOptions): Promise<UnpackResult> {
  const tempDir = join(options.storageDir, '.incoming', `${options.batchId}.tmp`);
  await mkdir(tempDir, { recursive: true });
  let current: Base64File | undefined;
  try {
    const root = await readTokens(input, options, tempDir, (file) => (current = file));
    current = undefined;
    const checked = checkPayload(root, options);
    return await commit(checked, options);
  } catch (error) {
    await current?.abandon();
    if (error instanceof PwError) throw error;
    if (error instanceof Base64Error || error instanceof FileTooLargeError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/Parser cannot parse input|Unexpected end|parse/i.test(message)) {
      throw refuse(options.source, `it is not valid JSON (${message})`);
    }
    throw error;
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function readTokens(
  input: Readable,
  options: UnpackOptions,
  tempDir: string,
  onFile: (file: Base64File | undefined) => void,
): Promise<Json> {
  const tokens = input.pipe(parser.asStream({ packValues: false, streamValues: true }));
  input.on('error', (error) => tokens.destroy(error));
  const stack: Frame[] = [];
  let root: Json | undefined;
  let assembled = 0;
  let text = '';
  let collecting: 'key' | 'string' | 'number' | 'content' | undefined;
  let decoder: Base64File | undefined;
  let decoderName = '';
  let fileCount = 0;

  const path = () => stack.map((frame) => (frame.kind === 'object' ? (frame.key ?? '') : '[]')).join('.');
  // A container keeps its parent's key set until it ends, so the path (files.<name>.content) is known inside.
  const put = (value: Json, container = false) => {
    const top = stack.at(-1);
    if (top === undefined) root = value;
    else if (top.kind === 'array') top.value.push(value);
    else {
      if (top.key === undefined) throw refuse(options.source, 'a value without a key');
      Object.defineProperty(top.value, top.key, { value, enumerable: true, writable: true });
      if (!container) top.key = undefined;
    }
  };
  const budget = (size: number) => {
    assembled += size;
    if (assembled > MAX_ASSEMBLED)
      throw refuse(options.source, `its non-content fields exceed ${MAX_ASSEMBLED} bytes`);
  };
  const isContent = () => {
    const [rootFrame, filesFrame, entryFrame] = stack;
    return (
      stack.length === 3 &&
      rootFrame?.kind === 'object' &&
      rootFrame.key === 'files' &&
      filesFrame?.kind === 'object' &&
      entryFrame?.kind === 'object' &&
      entryFrame.key === 'content'
    );
  };

  for await (const token of tokens as AsyncIterable<{ name: string; value?: unknown }>) {
    switch (token.name) {
      case 'startObject':
      case 'startArray': {
        if (stack.length >= MAX_DEPTH)
          throw refuse(options.source, `it nests deeper than ${MAX_DEPTH} levels`);
        budget(8);
        const frame: Frame =
          token.name === 'startObject'
            ? {
                kind: 'object',
                value: Object.create(null) as Record<string, Json>,
                key: undefined,
                keys: new Set(),
              }
            : { kind: 'array', value: [] };
        put(frame.value, true);
        stack.push(frame);
        if (
          frame.kind === 'object' &&
          stack.length === 3 &&
          stack[0]?.kind === 'object' &&
          stack[0].key === 'files'
        ) {
          fileCount += 1;
          if (fileCount > options.maxFiles)
            throw refuse(
              options.source,
              `it holds more than ${options.maxFiles} files, the inbox's max_files`,
            );
        }
        break;
      }
      case 'endObject':
      case 'endArray': {
        stack.pop();
        const parent = stack.at(-1);
        if (parent?.kind === 'object') parent.key = undefined;
        break;
      }
      case 'startKey':
        collecting = 'key';
        text = '';
        break;
      case 'startString':
        text = '';
        if (isContent()) {
          const filesFrame = stack[1] as Frame & { kind: 'object' };
          decoderName = filesFrame.key ?? '';
          collecting = 'content';
          decoder = await Base64File.create(join(tempDir, `${fileCount}.part`), options.maxFileBytes);
          onFile(decoder);
        } else collecting = 'string';
        break;
      case 'startNumber':
        collecting = 'number';
        text = '';
        break;
      case 'stringChunk':
      case 'numberChunk': {
        const piece = token.value as string;
        if (collecting === 'content') {
          try {
            await decoder?.write(piece);
          } catch (error) {
            throw contentError(error, decoderName, options);
          }
          break;
        }
        text += piece;
        const limit = collecting === 'key' ? MAX_KEY : MAX_STRING;
        if (text.length > limit)
          throw refuse(
            options.source,
            `a ${collecting ?? 'value'} at ${path()} is longer than ${limit} characters`,
          );
        break;
      }
      case 'endKey': {
        const top = stack.at(-1);
        if (top?.kind !== 'object') throw refuse(options.source, 'a key outside an object');
        if (top.keys.has(text))
          throw refuse(
            options.source,
            `the key ${JSON.stringify(text)} appears twice at ${path() || 'the top'}`,
          );
        top.keys.add(text);
        top.key = text;
        budget(text.length);
        collecting = undefined;
        break;
      }
      case 'endString':
        if (collecting === 'content' && decoder !== undefined) {
          let decoded: DecodedFile;
          try {
            decoded = await decoder.end();
          } catch (error) {
            throw contentError(error, decoderName, options);
          }
          decoder = undefined;
          onFile(undefined);
          put(new DecodedRef(decoded));
        } else {
          budget(text.length);
          put(text);
        }
        collecting = undefined;
        break;
      case 'endNumber':
        put(Number(text));
        collecting = undefined;
        break;
      case 'trueValue':
      case 'falseValue':
      case 'nullValue':
        put(token.value as Json);
        break;
      default:
        break;
    }
  }
  if (root === undefined) throw refuse(options.source, 'it is empty');
  return root;
}

function contentError(error: unknown, name: string, options: UnpackOptions): unknown {
  if (error instanceof Base64Error)
    return refuse(options.source, `${label(name)}.content is not valid base64: ${error.message}`);
  if (error instanceof FileTooLargeError)
    return refuse(
      options.source,
      `${label(name)} is ${error.message} (the inbox's max_file_mb)`,
      'Split the file or raise max_file_mb of the inbox in pipewright.yaml.',
    );
  return error;
}

interface CheckedFile {
  name: string;
  decoded: DecodedFile;
  contentType: string;
}

interface CheckedPayload {
  files: CheckedFile[];
  metadata: UnpackResult['metadata'];
}

const isObject = (value: unknown): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof DecodedRef);

function checkPayload(root: Json, options: UnpackOptions): CheckedPayload {
  const issues: string[] = [];
  if (!isObject(root)) throw refuse(options.source, 'the payload is not a JSON object');
  const meta = root.batch_metadata;
  const files = root.files;
  if (!isObject(files)) throw refuse(options.source, '`files` is missing or not an object of name → file');
  if (!isObject(meta)) throw refuse(options.source, '`batch_metadata` is missing or not an object');

  const checked: CheckedFile[] = [];
  const lowerNames = new Set<string>();
  for (const [name, entry] of Object.entries(files)) {
    const where = label(name);
    const problem = nameProblem(name);
    if (problem !== undefined) {
      issues.push(`${where}: ${problem}`);
      continue;
    }
    if (lowerNames.has(name.toLowerCase()))
      issues.push(`${where}: another file has the same name but for case`);
    lowerNames.add(name.toLowerCase());
    const extension = extensionProblem(name, options.allowedTypes);
    if (extension !== undefined) issues.push(`${where}: ${extension}`);
    if (!isObject(entry)) {
      issues.push(`${where}: expected an object with filename, size, extension, content_type, content`);
      continue;
    }
    if (entry.filename !== undefined && entry.filename !== name)
      issues.push(
        `${where}.filename is ${JSON.stringify(entry.filename)}, not the key ${JSON.stringify(name)}`,
      );
    const content = entry.content;
    if (!(content instanceof DecodedRef)) {
      issues.push(`${where}.content: expected a base64 string`);
      continue;
    }
    const decoded = content.file;
    if (entry.size !== undefined && entry.size !== decoded.bytes)
      issues.push(
        `${where}.size says ${String(entry.size as number)} bytes, the content decodes to ${decoded.bytes}`,
      );
    if (
      typeof entry.extension === 'string' &&
      entry.extension.replace(/^\./, '').toLowerCase() !== extensionOf(name)
    )
      issues.push(`${where}.extension '${entry.extension}' does not match the name`);
    const declared = typeof entry.content_type === 'string' ? entry.content_type : undefined;
    const mismatch = contentProblem(name, declared, decoded.head);
    if (mismatch !== undefined) issues.push(`${where}: ${mismatch}`);
    checked.push({ name, decoded, contentType: declared ?? '' });
  }

  const total = meta.total_files;
  const count = Object.keys(files).length;
  if (total !== undefined && total !== count)
    issues.push(
      `batch_metadata.total_files says ${String(total as number)}, the payload holds ${count} files`,
    );
  const listed = meta.files;
  if (listed !== undefined) {
    if (!Array.isArray(listed)) issues.push('batch_metadata.files: expected an array');
    else {
      if (listed.length !== count)
        issues.push(`batch_metadata.files lists ${listed.length} files, the payload holds ${count}`);
      listed.forEach((item, index) => {
        if (!isObject(item) || typeof item.filename !== 'string') {
          issues.push(`batch_metadata.files[${index}]: expected { filename, size, extension }`);
          return;
        }
        const match = checked.find((file) => file.name === item.filename);
        if (match === undefined && !Object.hasOwn(files, item.filename))
          issues.push(
            `batch_metadata.files[${index}] lists ${JSON.stringify(item.filename)}, which the payload does not hold`,
          );
        else if (match !== undefined && item.size !== undefined && item.size !== match.decoded.bytes)
          issues.push(
            `batch_metadata.files[${index}].size says ${String(item.size as number)} bytes for ${JSON.stringify(item.filename)}, the content decodes to ${match.decoded.bytes}`,
          );
      });
    }
  }
  if (count === 0) issues.push('the payload holds no files');
  if (issues.length > 0) {
    const shown = issues.slice(0, MAX_ISSUES);
    const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
    throw refuse(options.source, `${shown.join('; ')}${more}`);
  }
  const text = (value: Json | undefined) => (typeof value === 'string' ? value : undefined);
  const metadata: UnpackResult['metadata'] = {};
  const timestamp = text(meta.timestamp);
  const folder = text(meta.source_folder);
  const batchName = text(meta.batch_name);
  if (timestamp !== undefined) metadata.timestamp = timestamp;
  if (folder !== undefined) metadata.source_folder = folder;
  if (batchName !== undefined) metadata.batch_name = batchName;
  if (typeof total === 'number') metadata.total_files = total;
  return { files: checked, metadata };
}

/** Moves every checked file into storage under a free timestamped name, then writes the summary. */
async function commit(checked: CheckedPayload, options: UnpackOptions): Promise<UnpackResult> {
  const stamp = batchStamp(options.now);
  const stored: StoredFile[] = [];
  for (const file of checked.files) {
    for (let attempt = 1; ; attempt += 1) {
      const storedAs = attempt === 1 ? `${stamp}_${file.name}` : `${stamp}-${attempt}_${file.name}`;
      const target = join(options.storageDir, storedAs);
      try {
        await link(file.decoded.path, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 1000) continue;
        throw new PwError(
          'PW_IO',
          `Cannot store ${storedAs} in ${options.storageDir}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      stored.push({
        name: file.name,
        storedAs,
        path: target,
        bytes: file.decoded.bytes,
        sha256: file.decoded.sha256,
        contentType: file.contentType,
      });
      break;
    }
  }
  const summaryPath = join(options.storageDir, `${stamp}_batch-${options.batchId}_summary.json`);
  const summary = {
    batch_id: options.batchId,
    processed_at: options.now.toISOString(),
    source: options.source,
    batch_metadata: checked.metadata,
    total_files: stored.length,
    total_bytes: stored.reduce((sum, file) => sum + file.bytes, 0),
    files: stored.map((file) => ({
      filename: file.name,
      stored_as: file.storedAs,
      size: file.bytes,
      sha256: file.sha256,
      content_type: file.contentType,
    })),
  };
  const temp = `${summaryPath}.tmp`;
  await writeFile(temp, `${JSON.stringify(summary, null, 2)}\n`, { flag: 'w' });
  await rename(temp, summaryPath);
  return { batchId: options.batchId, files: stored, metadata: checked.metadata, summaryPath };
}
