/**
 * What a file in a batch payload may be called and what it may contain. A name is a single plain
 * file name (no folder part, no `..`, no control characters, not a Windows device name) because it
 * becomes part of a path in the inbox's storage folder; its extension must be one the inbox allows;
 * and for the types whose bytes say what they are (images, JSON, PDF) the declared content type and
 * the extension must agree with the first bytes.
 */

/** The types the users' sender packs: JSON, images, text (see docs/reference/inboxes.md). */
export const DEFAULT_ALLOWED_TYPES = [
  'json',
  'jpg',
  'jpeg',
  'png',
  'gif',
  'bmp',
  'webp',
  'svg',
  'txt',
  'csv',
  'xml',
] as const;

export const MAX_NAME_LENGTH = 200;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  json: 'application/json',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  txt: 'text/plain',
  csv: 'text/csv',
  xml: 'application/xml',
  pdf: 'application/pdf',
  parquet: 'application/vnd.apache.parquet',
  ndjson: 'application/x-ndjson',
  html: 'text/html',
};

// CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension: Windows refuses or redirects them.
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** The lower-case extension without its dot ('' when there is none). */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** The content type a sender declares for an extension (application/octet-stream when unknown). */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[extensionOf(name)] ?? 'application/octet-stream';
}

/** Why `name` cannot be a file name in an inbox, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.includes('\0')) return 'the name contains a NUL byte';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
  if (/[\x00-\x1f\x7f]/.test(name)) return 'the name contains a control character';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.startsWith('\\'))
    return 'the name is an absolute path';
  if (name.split(/[/\\]/).includes('..')) return "the name contains '..'";
  if (/[/\\]/.test(name)) return 'the name contains a folder separator (/ or \\)';
  if (name === '.' || name === '..') return 'the name is a folder reference';
  if (name.startsWith('.')) return 'the name starts with a dot (hidden files are refused)';
  if (/[<>:"|?*]/.test(name)) return 'the name contains a character Windows forbids (<>:"|?*)';
  if (/[. ]$/.test(name)) return 'the name ends with a dot or a space';
  if (RESERVED.test(name)) return 'the name is a reserved device name (CON, PRN, AUX, NUL, COMn, LPTn)';
  if (Buffer.byteLength(name) > MAX_NAME_LENGTH) return `the name is longer than ${MAX_NAME_LENGTH} bytes`;
  return undefined;
}

/** Why the extension of `name` is not allowed, or undefined when it is. */
export function extensionProblem(name: string, allowed: readonly string[]): string | undefined {
  const extension = extensionOf(name);
  if (allowed.includes(extension)) return undefined;
  return `the extension '${extension === '' ? '(none)' : `.${extension}`}' is not allowed; allowed: ${allowed.map((type) => `.${type}`).join(' ')}`;
}

type Sniffed = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/bmp' | 'image/webp' | 'application/pdf';

/** What the first bytes of a file say it is, for the formats with a signature. */
export function sniffType(head: Buffer): Sniffed | undefined {
  const starts = (bytes: number[], at = 0) => bytes.every((byte, index) => head[at + index] === byte);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (starts([0x47, 0x49, 0x46, 0x38])) return 'image/gif';
  if (starts([0x42, 0x4d])) return 'image/bmp';
  if (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return 'image/webp';
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf';
  return undefined;
}

function essence(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Why the declared content type, the extension and the first bytes disagree, or undefined. Images and
 * PDF must carry their signature; JSON must start (after white space and a BOM) with a JSON value;
 * text, CSV and XML must not look like a binary format. A declared type must match the extension's.
 */
export function contentProblem(name: string, declared: string | undefined, head: Buffer): string | undefined {
  const expected = contentTypeFor(name);
  if (declared !== undefined && declared !== '') {
    const given = essence(declared);
    const aliases = given === 'image/jpg' ? 'image/jpeg' : given === 'text/xml' ? 'application/xml' : given;
    if (expected !== 'application/octet-stream' && aliases !== expected) {
      return `content_type '${declared}' does not fit the extension (expected ${expected})`;
    }
  }
  const sniffed = sniffType(head);
  const type = expected;
  if (type.startsWith('image/') && type !== 'image/svg+xml') {
    if (sniffed !== type) {
      return `the bytes are not ${type} (they ${sniffed === undefined ? 'carry no image signature' : `look like ${sniffed}`})`;
    }
    return undefined;
  }
  if (type === 'application/pdf' && sniffed !== type) return 'the bytes are not a PDF (no %PDF- signature)';
  if (sniffed !== undefined) return `the bytes look like ${sniffed}, not ${type}`;
  if (type === 'application/json' && head.length > 0) {
    let text = head.toString('utf8');
    if (text.startsWith('\ufeff')) text = text.slice(1);
    const first = text.trimStart()[0];
    if (first !== undefined && !/[[{"\-0-9tfn]/.test(first)) return 'the bytes do not start a JSON value';
  }
  return undefined;
}
