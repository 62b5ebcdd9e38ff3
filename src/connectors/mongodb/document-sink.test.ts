/**
 * The MongoDB mapping and streaming core, fed with documents built by the driver's own BSON library
 * (no MongoDB server can run on this machine; the integration suite in mongodb.test.ts covers the
 * driver against a real one when MONGODB_TEST_URL is set). Documents go through the same
 * AsyncIterable interface the driver's cursors implement, into a real run database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BSON } from 'mongodb';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import { streamDocumentsIntoDataset, type DocumentSinkOptions } from './document-sink.js';

const { ObjectId, Decimal128, Long, Int32, Double, Binary, UUID, Timestamp, BSONRegExp } = BSON;

type Document = Record<string, unknown>;

/** Documents as the driver hands them over: serialized to BSON and read back with promoteValues false. */
function roundTrip(document: Document): Document {
  return BSON.deserialize(BSON.serialize(document), { promoteValues: false, bsonRegExp: true });
}

async function* fromArray(documents: readonly Document[]): AsyncGenerator<Document> {
  for (const document of documents) yield roundTrip(document);
}

let h: StepHarness;
before(async () => {
  h = await createStepHarness();
});
after(async () => {
  await h.close();
});

async function load(
  documents: AsyncIterable<Document> | readonly Document[],
  options: Partial<DocumentSinkOptions> = {},
  stepId = 'docs',
) {
  const source = Symbol.asyncIterator in documents ? documents : fromArray(documents as Document[]);
  const step = defineStep({
    type: 'test.documents',
    kind: 'extract',
    description: 'feeds documents to the sink',
    config: z.strictObject({}),
    run: (ctx) =>
      streamDocumentsIntoDataset(ctx, source, {
        batchSize: 3,
        flatten: false,
        nested: 'json',
        columns: {},
        label: `Step '${stepId}'`,
        ...options,
      }),
  });
  return (await h.runStep(step, {}, { stepId })) as unknown as Awaited<
    ReturnType<typeof streamDocumentsIntoDataset>
  >;
}

describe('MongoDB documents into DuckDB', () => {
  test('maps each BSON type to its DuckDB type and keeps values exact', async () => {
    const id = new ObjectId('65a1b2c3d4e5f60718293a4b');
    const uuid = new UUID('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    const result = await load([
      {
        _id: id,
        name: 'Zoë',
        qty: new Int32(7),
        big: Long.fromString('9007199254740993'),
        ratio: new Double(3),
        price: Decimal128.fromString('12345678901234.123456'),
        paid: true,
        at: new Date('2024-05-06T07:08:09.123Z'),
        raw: new Binary(Buffer.from([0, 255, 16])),
        key: uuid,
        nested: {
          a: 1,
          b: [1, 'x', { c: new Date('2024-01-01T00:00:00Z') }],
          id,
          d: Decimal128.fromString('1.10'),
        },
        tags: ['a', 'b'],
      },
      { _id: new ObjectId('65a1b2c3d4e5f60718293a4c'), price: Decimal128.fromString('-0.5'), qty: null },
    ]);
    assert.equal(result.rows, 2);
    assert.deepEqual(await h.columnTypes('docs'), {
      _id: 'VARCHAR',
      name: 'VARCHAR',
      qty: 'INTEGER',
      big: 'BIGINT',
      ratio: 'DOUBLE',
      price: 'DECIMAL(20,6)',
      paid: 'BOOLEAN',
      at: 'TIMESTAMP WITH TIME ZONE',
      raw: 'BLOB',
      key: 'UUID',
      nested: 'JSON',
      tags: 'JSON',
    });
    const rows = await h.query<Record<string, unknown>>(
      `SELECT _id, name, qty, big::VARCHAR AS big, ratio, price::VARCHAR AS price, paid,
              strftime("at" AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g') AS at, hex(raw) AS raw, key::VARCHAR AS key,
              nested::VARCHAR AS nested, tags::VARCHAR AS tags FROM docs ORDER BY _id`,
    );
    assert.deepEqual(rows[0], {
      _id: '65a1b2c3d4e5f60718293a4b',
      name: 'Zoë',
      qty: 7,
      big: '9007199254740993',
      ratio: 3,
      price: '12345678901234.123456',
      paid: true,
      at: '2024-05-06 07:08:09.123',
      raw: '00FF10',
      key: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      nested:
        '{"a":1,"b":[1,"x",{"c":"2024-01-01T00:00:00.000Z"}],"id":"65a1b2c3d4e5f60718293a4b","d":"1.10"}',
      tags: '["a","b"]',
    });
    assert.deepEqual(rows[1], {
      _id: '65a1b2c3d4e5f60718293a4c',
      name: null,
      qty: null,
      big: null,
      ratio: null,
      price: '-0.500000',
      paid: null,
      at: null,
      raw: null,
      key: null,
      nested: null,
      tags: null,
    });
  });

  test('columns are the union of fields seen in any batch; missing fields are NULL', async () => {
    const documents = Array.from({ length: 10 }, (_, index) =>
      index < 7 ? { n: index } : { n: index, late: `x${index}` },
    );
    const result = await load(documents, { batchSize: 3 }, 'union');
    assert.equal(result.rows, 10);
    assert.deepEqual(await h.columnTypes('union'), { n: 'INTEGER', late: 'VARCHAR' });
    const rows = await h.query<{ n: number; late: string | null }>('SELECT n, late FROM "union" ORDER BY n');
    assert.deepEqual(
      rows.map((row) => row.late),
      [null, null, null, null, null, null, null, 'x7', 'x8', 'x9'],
    );
  });

  test('mixed kinds widen: Int32+Long → BIGINT, +Double → DOUBLE, Decimal128 scales merge, other mixes are VARCHAR with a note', async () => {
    const result = await load(
      [
        { i: new Int32(1), l: new Int32(1), d: new Int32(1), dec: Decimal128.fromString('1.5'), mix: 'a' },
        {
          i: new Int32(2),
          l: Long.fromNumber(2 ** 40),
          d: new Double(2.5),
          dec: Decimal128.fromString('100.125'),
          mix: new Int32(5),
        },
        { dec: new Int32(7), mix: new Date('2024-01-01T00:00:00Z') },
      ],
      {},
      'mixed',
    );
    assert.deepEqual(await h.columnTypes('mixed'), {
      i: 'INTEGER',
      l: 'BIGINT',
      d: 'DOUBLE',
      dec: 'DECIMAL(6,3)',
      mix: 'VARCHAR',
    });
    assert.equal(result.notes.length, 1);
    assert.match(
      result.notes[0] ?? '',
      /field 'mix' holds values of different types \(date, int32, string\)/,
    );
    const rows = await h.query<{ dec: string; mix: string }>('SELECT dec::VARCHAR AS dec, mix FROM mixed');
    assert.deepEqual(
      rows.map((row) => [row.dec, row.mix]),
      [
        ['1.500', 'a'],
        ['100.125', '5'],
        ['7.000', '2024-01-01T00:00:00.000Z'],
      ],
    );
  });

  test('Decimal128 beyond 38 digits, NaN or exponents stays VARCHAR with a note', async () => {
    const result = await load(
      [{ v: Decimal128.fromString('NaN') }, { v: Decimal128.fromString('1.25') }],
      {},
      'dec_special',
    );
    assert.deepEqual(await h.columnTypes('dec_special'), { v: 'VARCHAR' });
    assert.match(result.notes.join('\n'), /NaN or exponents/);
  });

  test('flatten spreads nested documents into dotted columns; arrays stay JSON', async () => {
    await load(
      [
        { _id: 1, address: { city: 'Graz', geo: { lat: new Double(47.07) } }, phones: ['1', '2'] },
        { _id: 2, address: { city: 'Wien', zip: '1010' } },
      ],
      { flatten: true },
      'flat',
    );
    assert.deepEqual(await h.columnTypes('flat'), {
      _id: 'INTEGER',
      'address.city': 'VARCHAR',
      'address.geo.lat': 'DOUBLE',
      phones: 'JSON',
      'address.zip': 'VARCHAR',
    });
    const rows = await h.query(
      'SELECT "address.city" AS city, "address.zip" AS zip, "address.geo.lat" AS lat FROM flat ORDER BY _id',
    );
    assert.deepEqual(rows, [
      { city: 'Graz', zip: null, lat: 47.07 },
      { city: 'Wien', zip: '1010', lat: null },
    ]);
  });

  test('nested: struct types documents and arrays from all their values', async () => {
    await load(
      [{ address: { city: 'Graz', n: 1 }, tags: ['a'] }, { address: { city: 'Wien', zip: '1010' } }],
      { nested: 'struct' },
      'structs',
    );
    assert.deepEqual(await h.columnTypes('structs'), {
      address: 'STRUCT(city VARCHAR, n UBIGINT, zip VARCHAR)',
      tags: 'VARCHAR[]',
    });
    const rows = await h.query<{ city: string }>('SELECT address.city AS city FROM structs');
    assert.deepEqual(
      rows.map((row) => row.city),
      ['Graz', 'Wien'],
    );
  });

  test('columns: overrides a type, and gives typed columns even when no document has the field', async () => {
    const result = await load(
      [{ amount: '12.50', when: '2024-01-02' }],
      { columns: { amount: 'DECIMAL(10,2)', WHEN: 'DATE', missing: 'INTEGER' } },
      'overrides',
    );
    assert.deepEqual(result.columns, [
      { name: 'amount', type: 'DECIMAL(10,2)' },
      { name: 'when', type: 'DATE' },
      { name: 'missing', type: 'INTEGER' },
    ]);
    const empty = await load([], { columns: { id: 'VARCHAR', total: 'DOUBLE' } }, 'empty');
    assert.equal(empty.rows, 0);
    assert.deepEqual(await h.columnTypes('empty'), { id: 'VARCHAR', total: 'DOUBLE' });
  });

  test('a value that does not fit an override names the document and field', async () => {
    await assert.rejects(
      load([{ n: '1' }, { n: 'two' }], { columns: { n: 'INTEGER' } }, 'bad_cast'),
      (error: unknown) =>
        error instanceof PwError &&
        error.code === 'PW_DB_TYPE' &&
        /document 2, field 'n': 'two' does not fit DuckDB type INTEGER/.test(error.message),
    );
  });

  test('fields differing only in case are refused with a hint', async () => {
    await assert.rejects(
      load([{ Name: 'a', name: 'b' }], {}, 'case_clash'),
      (error: unknown) =>
        error instanceof PwError &&
        error.code === 'PW_DB_TYPE' &&
        /'Name' and 'name' differ only in case/.test(error.message),
    );
  });

  test('other BSON values read as text: Timestamp as a time, regex as /p/f, promoted numbers and Buffers too', async () => {
    await load(
      [
        {
          ts: new Timestamp({ t: 1_700_000_000, i: 3 }),
          re: new BSONRegExp('^a.*', 'i'),
        },
      ],
      {},
      'others',
    );
    const rows = await h.query<{ ts: string; re: string }>(
      `SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') AS ts, re FROM others`,
    );
    assert.deepEqual(rows, [{ ts: '2023-11-14 22:13:20', re: '/^a.*/i' }]);
    // Documents that were never serialized (plain JS values) map the same way.
    async function* plain(): AsyncGenerator<Document> {
      yield { n: 1, big: 2n ** 40n, f: 1.5, b: Buffer.from('hi'), d: new Date(0) };
    }
    await load(plain(), {}, 'plain');
    assert.deepEqual(await h.columnTypes('plain'), {
      n: 'INTEGER',
      big: 'BIGINT',
      f: 'DOUBLE',
      b: 'BLOB',
      d: 'TIMESTAMP WITH TIME ZONE',
    });
  });

  test('100,000 documents stream through in batches: the source is never more than one batch ahead', async () => {
    const batchSize = 1000;
    const total = 100_000;
    let appended = 0;
    let maxAhead = 0;
    const payload = 'x'.repeat(500);
    async function* generate(): AsyncGenerator<Document> {
      for (let index = 0; index < total; index += 1) {
        maxAhead = Math.max(maxAhead, index - appended);
        yield roundTrip({
          _id: new ObjectId(),
          n: new Int32(index),
          amount: Decimal128.fromString(`${index}.25`),
          at: new Date(Date.UTC(2024, 0, 1) + index * 1000),
          payload,
          ...(index % 2 === 0 ? { even: true } : {}),
        });
      }
    }
    const result = await load(
      generate(),
      {
        batchSize,
        onBatch: (documents) => {
          appended = documents;
        },
      },
      'many',
    );
    assert.equal(result.rows, total);
    assert.ok(maxAhead <= batchSize, `the sink pulled ${maxAhead} documents ahead of what it had stored`);
    const [summary] = await h.query<{ rows: number; evens: number; total: string; latest: string }>(
      `SELECT count(*)::INTEGER AS rows, count(even)::INTEGER AS evens, sum(amount)::VARCHAR AS total,
              strftime(max("at") AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') AS latest FROM many`,
    );
    assert.deepEqual(summary, {
      rows: total,
      evens: total / 2,
      total: '4999975000.00',
      latest: '2024-01-02 03:46:39',
    });
    assert.deepEqual(await h.columnTypes('many'), {
      _id: 'VARCHAR',
      n: 'INTEGER',
      amount: 'DECIMAL(7,2)',
      at: 'TIMESTAMP WITH TIME ZONE',
      payload: 'VARCHAR',
      even: 'BOOLEAN',
    });
  });

  test('a failing source closes it and leaves no dataset behind', async () => {
    let closed = false;
    const source: AsyncIterable<Document> = {
      [Symbol.asyncIterator]() {
        let index = 0;
        return {
          next: () =>
            index++ < 5
              ? Promise.resolve({ done: false, value: { n: index } })
              : Promise.reject(new Error('cursor died')),
          return: () => {
            closed = true;
            return Promise.resolve({ done: true, value: undefined });
          },
        };
      },
    };
    await assert.rejects(load(source, {}, 'broken'), /cursor died/);
    assert.equal(closed, true);
    const tables = await h.query(
      `SELECT table_name FROM duckdb_tables() WHERE table_name IN ('broken', '__pw_mongo_broken')`,
    );
    assert.deepEqual(tables, []);
  });
});
