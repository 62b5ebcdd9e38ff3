/**
 * Filters, projections, sorts and pipelines arrive from YAML after templating: either as a YAML
 * mapping/list or as a string of JSON text, both read as MongoDB Extended JSON (canonical or relaxed,
 * `{ "$date": "…" }`, `{ "$oid": "…" }`, `{ "$numberDecimal": "…" }`) by the driver's own EJSON.
 */
import type { Document } from 'mongodb';
import { PwError } from '../../core/errors/pw-error.js';

type Expect = 'document' | 'pipeline';

export async function readExtendedJson(
  value: unknown,
  field: string,
  expect: Expect,
  label: string,
): Promise<Document | Document[]> {
  const { BSON } = await import('mongodb');
  let parsed: unknown;
  try {
    parsed =
      typeof value === 'string'
        ? BSON.EJSON.parse(value, { relaxed: true })
        : BSON.EJSON.deserialize(value as Document, { relaxed: true });
  } catch (error) {
    throw new PwError(
      'PW_SPEC_TYPE',
      `${label}: with.${field} is not valid Extended JSON: ${(error as Error).message}`,
      {
        path: `with.${field}`,
        expected:
          expect === 'pipeline'
            ? 'a list of stages, e.g. [{ "$match": { … } }]'
            : 'a document, e.g. { "status": "paid" }',
        hint: 'Write dates as { "$date": "2026-11-01T00:00:00Z" } and ids as { "$oid": "…" }; inside a YAML string, JSON needs double quotes around names.',
      },
    );
  }
  const isDocument = (item: unknown): item is Document =>
    typeof item === 'object' && item !== null && !Array.isArray(item);
  if (expect === 'pipeline' ? Array.isArray(parsed) && parsed.every(isDocument) : isDocument(parsed)) {
    const invalidDate = findInvalidDate(parsed, field);
    if (invalidDate !== undefined) {
      throw new PwError('PW_SPEC_TYPE', `${label}: with.${invalidDate} is a $date that is not a valid date`, {
        path: `with.${invalidDate}`,
        expected: 'ISO 8601 text such as 2026-11-16T00:00:00Z, or epoch milliseconds',
        hint: 'Render dates with the date filters, e.g. { $date: "{{ run.scheduled_for | date_add: \'-7d\' | iso }}" }.',
      });
    }
    return parsed as Document | Document[];
  }
  throw new PwError(
    'PW_SPEC_TYPE',
    `${label}: with.${field} must be ${expect === 'pipeline' ? 'a list of stage documents' : 'a document'}`,
    {
      path: `with.${field}`,
      expected:
        expect === 'pipeline' ? '[{ "$match": { … } }, { "$group": { … } }]' : '{ "field": value, … }',
      found: Array.isArray(parsed) ? 'a list' : typeof parsed,
    },
  );
}

/** The path of the first Date that EJSON read from text it could not understand (it does not refuse them). */
function findInvalidDate(value: unknown, path: string): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findInvalidDate(item, `${path}[${index}]`);
      if (found !== undefined) return found;
    }
  } else if (typeof value === 'object' && value !== null && !('_bsontype' in value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = findInvalidDate(item, `${path}.${key}`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
