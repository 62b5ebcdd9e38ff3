/**
 * Zip archives and minimal XLSX workbooks built byte by byte for tests of the zip and workbook
 * readers: parts in any order (LibreOffice stores shared strings after the worksheets), stored or
 * deflated, with sizes in data descriptors as LibreOffice writes them, or in Zip64 form; and damage no
 * real writer produces on purpose. A helper for tests, not part of the product.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipPart {
  name: string;
  data: string | Buffer;
}

export interface ZipLayout {
  deflate?: boolean;
  /** Sizes and CRC after the data instead of in the local header (bit 3), as LibreOffice writes. */
  dataDescriptors?: boolean;
  /** Every size and offset in Zip64 fields, with a Zip64 end-of-central-directory record. */
  zip64?: boolean;
}

const MAX32 = 0xffffffff;

function uint64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function uint32Pair(first: number, second: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeUInt32LE(first, 0);
  buffer.writeUInt32LE(second, 4);
  return buffer;
}

/** The bytes of a zip archive holding `parts` in the order given. */
export function zipBytes(parts: readonly ZipPart[], layout: ZipLayout = {}): Buffer {
  const { deflate = true, dataDescriptors = false, zip64 = false } = layout;
  const chunks: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  const push = (chunk: Buffer): void => {
    chunks.push(chunk);
    offset += chunk.length;
  };
  for (const part of parts) {
    const data = Buffer.from(part.data);
    const body = deflate ? deflateRawSync(data) : data;
    const name = Buffer.from(part.name, 'utf8');
    const crc = crc32(data);
    const flags = 0x800 | (dataDescriptors ? 0x8 : 0);
    const method = deflate ? 8 : 0;
    const version = zip64 ? 45 : 20;
    const headerOffset = offset;
    const localExtra = zip64
      ? Buffer.concat([
          Buffer.from([1, 0, 16, 0]),
          uint64(dataDescriptors ? 0 : data.length),
          uint64(dataDescriptors ? 0 : body.length),
        ])
      : Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(version, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(dataDescriptors ? 0 : crc, 14);
    local.writeUInt32LE(zip64 ? MAX32 : dataDescriptors ? 0 : body.length, 18);
    local.writeUInt32LE(zip64 ? MAX32 : dataDescriptors ? 0 : data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    push(Buffer.concat([local, name, localExtra, body]));
    if (dataDescriptors) {
      const sizes = zip64
        ? Buffer.concat([uint64(body.length), uint64(data.length)])
        : uint32Pair(body.length, data.length);
      const descriptor = Buffer.alloc(8);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc, 4);
      push(Buffer.concat([descriptor, sizes]));
    }
    const centralExtra = zip64
      ? Buffer.concat([
          Buffer.from([1, 0, 24, 0]),
          uint64(data.length),
          uint64(body.length),
          uint64(headerOffset),
        ])
      : Buffer.alloc(0);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(version, 4);
    central.writeUInt16LE(version, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(zip64 ? MAX32 : body.length, 20);
    central.writeUInt32LE(zip64 ? MAX32 : data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(centralExtra.length, 30);
    central.writeUInt32LE(zip64 ? MAX32 : headerOffset, 42);
    directory.push(Buffer.concat([central, name, centralExtra]));
  }
  const directoryOffset = offset;
  const directoryBytes = Buffer.concat(directory);
  push(directoryBytes);
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(parts.length), 24);
    record.writeBigUInt64LE(BigInt(parts.length), 32);
    record.writeBigUInt64LE(BigInt(directoryBytes.length), 40);
    record.writeBigUInt64LE(BigInt(directoryOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset), 8);
    locator.writeUInt32LE(1, 16);
    push(Buffer.concat([record, locator]));
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : parts.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : parts.length, 10);
  end.writeUInt32LE(zip64 ? MAX32 : directoryBytes.length, 12);
  end.writeUInt32LE(zip64 ? MAX32 : directoryOffset, 16);
  push(end);
  return Buffer.concat(chunks);
}

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const RELATIONSHIPS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const WORKSHEET_TYPE = `${RELATIONSHIPS}/worksheet`;

/** A cell of a hand-made sheet: a number, or an index into the shared-string table (`t="s"`). */
export type HandCell = number | { shared: number };

export interface HandSheet {
  name: string;
  rows: HandCell[][];
}

function columnName(index: number): string {
  return String.fromCharCode(65 + index);
}

function sheetXml(rows: readonly HandCell[][]): string {
  const body = rows
    .map((cells, at) => {
      const r = at + 1;
      const xml = cells
        .map((cell, column) =>
          typeof cell === 'number'
            ? `<c r="${columnName(column)}${r}"><v>${cell}</v></c>`
            : `<c r="${columnName(column)}${r}" t="s"><v>${cell.shared}</v></c>`,
        )
        .join('');
      return `<row r="${r}">${xml}</row>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${MAIN}"><sheetData>${body}</sheetData></worksheet>`;
}

/**
 * The parts of a minimal workbook, in the order LibreOffice stores them: sheet list, worksheets, then
 * relationships and shared strings (left out when `strings` is undefined, as in a damaged file).
 */
export function handMadeWorkbook(
  sheets: readonly HandSheet[],
  strings: readonly string[] | undefined,
): ZipPart[] {
  const workbook =
    `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${MAIN}" xmlns:r="${RELATIONSHIPS}"><sheets>` +
    sheets
      .map((sheet, at) => `<sheet name="${sheet.name}" sheetId="${at + 1}" r:id="rId${at + 1}"/>`)
      .join('') +
    '</sheets></workbook>';
  const rels =
    `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
    sheets
      .map(
        (_, at) =>
          `<Relationship Id="rId${at + 1}" Type="${WORKSHEET_TYPE}" Target="worksheets/sheet${at + 1}.xml"/>`,
      )
      .join('') +
    '</Relationships>';
  const parts: ZipPart[] = [{ name: 'xl/workbook.xml', data: workbook }];
  sheets.forEach((sheet, at) =>
    parts.push({ name: `xl/worksheets/sheet${at + 1}.xml`, data: sheetXml(sheet.rows) }),
  );
  parts.push({ name: 'xl/_rels/workbook.xml.rels', data: rels });
  if (strings !== undefined) {
    const items = strings.map((text) => `<si><t>${text}</t></si>`).join('');
    parts.push({
      name: 'xl/sharedStrings.xml',
      data: `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN}" count="${strings.length}" uniqueCount="${strings.length}">${items}</sst>`,
    });
  }
  return parts;
}
