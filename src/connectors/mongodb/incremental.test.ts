/**
 * Incremental reads of the MongoDB steps without a server (none can run here; mongodb.test.ts covers
 * them against a real one when MONGODB_TEST_URL is set): the filter and pipeline built around the
 * mark, the order of BSON values the largest one is chosen by, the mark's round trip through the
 * state store as canonical Extended JSON with its BSON type intact, and whole reads through
 * readCursor — the same code the steps run after their query — fed by a cursor stand-in that yields
 * documents as the driver does (BSON-serialized and read back with promoteValues false).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BSON, type AbstractCursor, type Document } from 'mongodb';
import { z } from 'zod';
import { defineStep } from '../../core/step.js';
import { PwError } from '../../core/errors/pw-error.js';
import { createStepHarness, type StepHarness } from '../../testing/step-harness.js';
import {
  checkPipelineForIncremental,
  compareCodePoints,
  compareCursorValues,
  filterAbove,
  MarkTracker,
  pipelineAbove,
  startIncremental,
  type StoredMongoMark,
} from './incremental.js';
import { readCursor, type MongoStepConfig, type MongoStepConnection } from './step-support.js';
import { mongoSettings } from './config.js';
import { toMongoError } from './errors.js';
import type { MongoSession } from './client.js';

const { ObjectId, Decimal128, Long, Int32, Double, Timestamp } = BSON;
const LABEL = "Step 'events', connection 'plant' (mongodb, 127.0.0.1:27017/plant)";

/** A document as the driver hands it over: through BSON and back, numbers kept wrapped. */
function asDriverReturns(document: Document): Document {
  return BSON.deserialize(BSON.serialize(document), { promoteValues: false, bsonRegExp: true });
}

function pwError(code: string, pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof PwError, `expected a PwError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

describe('the filter and pipeline around the mark', () => {
  test('no mark: the filter and pipeline as written', () => {
    const filter = { status: 'paid' };
    assert.equal(filterAbove(filter, 'updated_at', undefined), filter);
    assert.deepEqual(filterAbove({}, 'updated_at', undefined), {});
    const pipeline = [{ $group: { _id: '$sensor' } }];
    assert.deepEqual(pipelineAbove(pipeline, 'at', undefined), pipeline);
  });

  test('find: $and keeps the user’s own conditions on the cursor field, nothing is mutated', () => {
    const mark = new Date('2026-11-20T00:00:00Z');
    const limit = new Date('2026-12-01T00:00:00Z');
    const filter = { updated_at: { $lt: limit }, status: { $in: ['paid', 'sent'] } };
    const before = structuredClone(filter);
    assert.deepEqual(filterAbove(filter, 'updated_at', mark), {
      $and: [filter, { updated_at: { $gt: mark } }],
    });
    assert.deepEqual(filter, before);
    assert.deepEqual(filterAbove({}, 'meta.updated_at', mark), { 'meta.updated_at': { $gt: mark } });
  });

  test('the mark goes to the server with its BSON type (a Date stays a date, a Long all its digits)', () => {
    const date = new Date('2026-11-20T01:02:03.456Z');
    const long = Long.fromString('9007199254740993');
    const sent = BSON.deserialize(
      BSON.serialize({
        filter: filterAbove({ status: 'paid' }, 'updated_at', date),
        pipeline: pipelineAbove([{ $project: { seq: 1 } }], 'seq', long),
      }),
      { promoteValues: false },
    );
    const filter = sent.filter as { $and: [Document, { updated_at: { $gt: unknown } }] };
    assert.ok(filter.$and[1].updated_at.$gt instanceof Date);
    assert.equal((filter.$and[1].updated_at.$gt as Date).getTime(), date.getTime());
    const [match, project] = sent.pipeline as [{ $match: { seq: { $gt: { _bsontype: string } } } }, Document];
    assert.equal(match.$match.seq.$gt._bsontype, 'Long');
    assert.equal(String(match.$match.seq.$gt), '9007199254740993');
    assert.deepEqual(Object.keys(project), ['$project']);
  });

  test('aggregate: $match first, the pipeline unchanged; stages that must be first are refused', () => {
    const pipeline = [{ $group: { _id: '$sensor', n: { $sum: 1 } } }];
    const result = pipelineAbove(pipeline, 'at', 5);
    assert.deepEqual(result, [{ $match: { at: { $gt: 5 } } }, ...pipeline]);
    assert.equal(pipeline.length, 1);
    checkPipelineForIncremental(pipeline, LABEL);
    assert.throws(
      () => checkPipelineForIncremental([{ $geoNear: { near: [0, 0] } }], LABEL),
      pwError('PW_SPEC_TYPE', /\$geoNear must be its first stage/),
    );
  });
});

describe('the order of cursor values', () => {
  const ordered = (values: unknown[], cursorClass: Parameters<typeof compareCursorValues>[2]): void => {
    for (let i = 0; i < values.length; i += 1) {
      for (let j = 0; j < values.length; j += 1) {
        const expected = Math.sign(i - j);
        assert.equal(
          Math.sign(compareCursorValues(values[i], values[j], cursorClass)),
          expected,
          `${String(values[i])} vs ${String(values[j])}`,
        );
      }
    }
  };

  test('numbers by exact value across int, long, double and decimal; NaN lowest', () => {
    ordered(
      [
        new Double(NaN),
        new Double(-Infinity),
        Decimal128.fromString('-1E+400'),
        new Int32(-3),
        Decimal128.fromString('0.1'),
        new Double(0.1), // 0.1000000000000000055…: above the decimal 0.1
        new Int32(5),
        Long.fromString('6'),
        new Double(6.5),
        Decimal128.fromString('6.51'),
        new Double(9007199254740992),
        Long.fromString('9007199254740993'),
        Decimal128.fromString('9007199254740993.5'),
        new Double(Infinity),
      ],
      'number',
    );
    assert.equal(compareCursorValues(new Int32(7), Long.fromString('7'), 'number'), 0);
    assert.equal(compareCursorValues(Decimal128.fromString('7.00'), new Double(7), 'number'), 0);
  });

  test('strings by code point, as their UTF-8 bytes sort', () => {
    const strings = ['', 'A', 'Z', 'a', 'ab', 'é', '\uffef', '😀', '𝄞x'];
    for (const a of strings) {
      for (const b of strings) {
        assert.equal(
          Math.sign(compareCodePoints(a, b)),
          Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))),
          `${a} vs ${b}`,
        );
      }
    }
    // UTF-16 code units would put the emoji first.
    assert.ok(compareCodePoints('😀', '\uffef') > 0);
  });

  test('dates, ObjectIds and timestamps in their own order', () => {
    ordered([new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:00.001Z')], 'date');
    ordered(
      [
        new ObjectId('65a1b2c3d4e5f60718293a4b'),
        new ObjectId('65a1b2c3d4e5f60718293a4c'),
        new ObjectId('75a1b2c3d4e5f60718293a00'),
      ],
      'objectId',
    );
    ordered(
      [new Timestamp({ t: 5, i: 9 }), new Timestamp({ t: 6, i: 1 }), new Timestamp({ t: 6, i: 2 })],
      'timestamp',
    );
  });
});

describe('the largest value of the documents read', () => {
  test('dates in any order; documents without the field or with null are counted, not used', () => {
    const tracker = new MarkTracker('updated_at', LABEL);
    const dates = ['2026-11-02', '2026-11-09', '2026-11-01'].map((day) => new Date(`${day}T00:00:00Z`));
    for (const date of dates) tracker.observe(asDriverReturns({ updated_at: date }));
    tracker.observe(asDriverReturns({ other: 1 }));
    tracker.observe(asDriverReturns({ updated_at: null }));
    assert.equal(tracker.missing, 2);
    assert.equal((tracker.result?.value as Date).toISOString(), '2026-11-09T00:00:00.000Z');
    assert.equal(tracker.result?.type, 'date');
  });

  test('a dotted path; numbers of several types make one mark', () => {
    const tracker = new MarkTracker('meta.seq', LABEL);
    tracker.observe(asDriverReturns({ meta: { seq: new Int32(7) } }));
    tracker.observe(asDriverReturns({ meta: { seq: Long.fromString('9007199254740993') } }));
    tracker.observe(asDriverReturns({ meta: { seq: new Double(12.5) } }));
    tracker.observe(asDriverReturns({ meta: 'not a document' }));
    assert.equal(tracker.missing, 1);
    assert.equal(tracker.result?.type, 'long');
    assert.equal(String(tracker.result?.value), '9007199254740993');
  });

  test('two types in the field: a typed error naming the field and both types', () => {
    const tracker = new MarkTracker('updated_at', LABEL);
    tracker.observe(asDriverReturns({ updated_at: new Date('2026-11-02T00:00:00Z') }));
    assert.throws(
      () => tracker.observe(asDriverReturns({ updated_at: '2026-11-03' })),
      (error) => {
        pwError(
          'PW_DB_TYPE',
          /the incremental cursor 'updated_at' holds values of two types, date and string/,
        )(error);
        assert.equal((error as PwError).path, 'with.incremental.cursor');
        return true;
      },
    );
    const flags = new MarkTracker('done', LABEL);
    assert.throws(
      () => flags.observe({ done: true }),
      pwError('PW_DB_TYPE', /'done' holds a value of type bool, which has no order/),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Whole reads through readCursor, with the harness's state of marks

let h: StepHarness;
before(async () => {
  h = await createStepHarness();
});
after(async () => {
  await h.close();
});

const config: MongoStepConfig = {
  connection: 'plant',
  collection: 'readings',
  flatten: false,
  nested: 'json',
  batch_size: 2,
  incremental: { cursor: 'at' },
};

function cursorOver(documents: readonly Document[]): AbstractCursor<Document> {
  return {
    async *[Symbol.asyncIterator]() {
      for (const document of documents) yield asDriverReturns(document);
    },
    close: () => Promise.resolve(),
  } as unknown as AbstractCursor<Document>;
}

/**
 * A step that reads `documents` incrementally: the mark is read as the steps read it, `seen` records
 * the filter the step would send, and the documents go through readCursor.
 */
function readingStep(documents: readonly Document[], seen: Document[], incremental = config.incremental) {
  return defineStep({
    type: 'test.mongo-incremental',
    kind: 'extract',
    description: 'reads documents incrementally',
    config: z.strictObject({}),
    async run(ctx) {
      const settings = mongoSettings(
        'plant',
        { type: 'mongodb', url: 'mongodb://127.0.0.1:27017/plant' },
        '/p',
      );
      const connection: MongoStepConnection = {
        session: undefined as unknown as MongoSession,
        settings,
        label: LABEL,
        fail: (error, context) => toMongoError(error, { ...context, settings, stepId: ctx.stepId }),
      };
      const read = await startIncremental(ctx, incremental ?? { cursor: 'at' }, LABEL);
      seen.push(filterAbove({ sensor: 's1' }, read.cursor, read.since));
      return readCursor(
        ctx,
        { ...config, incremental },
        connection,
        cursorOver(documents),
        'find on readings',
        read,
      );
    },
  });
}

const day = (n: number): Date => new Date(Date.UTC(2026, 10, n));

describe('incremental reads through readCursor', () => {
  test('first run reads everything, a run that fails keeps the mark, the next reads above it', async () => {
    h.marks.committed.clear();
    h.marks.proposed.clear();
    const seen: Document[] = [];
    const first = await h.runStep(
      readingStep([{ at: day(2), v: 1 }, { at: day(5), v: 2 }, { v: 3 }, { at: day(3), v: 4 }], seen),
      {},
      { stepId: 'events' },
    );
    assert.equal(first.rows, 4);
    assert.deepEqual(first.outputs?.incremental, {
      cursor: 'at',
      since: null,
      until: '2026-11-05T00:00:00.000Z',
      type: 'date',
      missing: 1,
    });
    assert.deepEqual(seen[0], { sensor: 's1' });
    const proposed = h.marks.proposed.get('events') as StoredMongoMark;
    assert.deepEqual(proposed, { cursor: 'at', value: BSON.EJSON.stringify(day(5), { relaxed: false }) });
    assert.equal(proposed.value, `{"$date":{"$numberLong":"${day(5).getTime()}"}}`);
    assert.ok(
      h.logs.some((entry) => entry.level === 'warn' && /1 of 4 documents have no at/.test(entry.message)),
    );

    // The run failed after this step: nothing committed, so the same window is read again.
    h.marks.proposed.clear();
    await h.runStep(readingStep([{ at: day(5), v: 2 }], seen), {}, { stepId: 'events' });
    assert.deepEqual(seen[1], { sensor: 's1' });
    h.marks.commit();

    const third = await h.runStep(
      readingStep(
        [
          { at: day(7), v: 5 },
          { at: day(6), v: 6 },
        ],
        seen,
      ),
      {},
      { stepId: 'events' },
    );
    const sent = seen[2] as { $and: [Document, { at: { $gt: unknown } }] };
    assert.deepEqual(sent.$and[0], { sensor: 's1' });
    assert.ok(sent.$and[1].at.$gt instanceof Date, 'the mark read back is a Date');
    assert.equal((sent.$and[1].at.$gt as Date).getTime(), day(5).getTime());
    assert.deepEqual(third.outputs?.incremental, {
      cursor: 'at',
      since: '2026-11-05T00:00:00.000Z',
      until: '2026-11-07T00:00:00.000Z',
      type: 'date',
      missing: 0,
    });
    assert.deepEqual(await h.query('SELECT v FROM events ORDER BY v'), [{ v: 5 }, { v: 6 }]);
    h.marks.commit();

    // Nothing new: the mark stays.
    const empty = await h.runStep(readingStep([], seen), {}, { stepId: 'events' });
    assert.equal(empty.rows, 0);
    assert.equal(h.marks.proposed.has('events'), false);
    assert.equal((empty.outputs?.incremental as { until: unknown }).until, null);
  });

  test('every BSON type of a cursor survives the state store and comes back as itself', async () => {
    const values: [string, unknown, unknown][] = [
      ['date', day(1), day(2)],
      ['objectId', new ObjectId('65a1b2c3d4e5f60718293a4b'), new ObjectId('65a1b2c3d4e5f60718293a4c')],
      ['decimal', Decimal128.fromString('10.10'), Decimal128.fromString('10.25')],
      ['int', new Int32(41), new Int32(42)],
      ['long', Long.fromString('9007199254740993'), Long.fromString('9007199254740995')],
      ['double', new Double(1.5), new Double(2.75)],
      ['string', 'A-0041', 'A-0042'],
      ['timestamp', new Timestamp({ t: 1_700_000_000, i: 1 }), new Timestamp({ t: 1_700_000_000, i: 2 })],
    ];
    for (const [type, lower, higher] of values) {
      const stepId = `t_${type}`;
      const seen: Document[] = [];
      await h.runStep(readingStep([{ at: lower }, { at: higher }], seen), {}, { stepId });
      h.marks.commit();
      await h.runStep(readingStep([], seen), {}, { stepId });
      const mark = (seen[1] as { $and: [Document, { at: { $gt: unknown } }] }).$and[1].at.$gt;
      // The same BSON type and value as the largest document's, checked on the wire form.
      const wire = (value: unknown): string =>
        BSON.EJSON.stringify(BSON.deserialize(BSON.serialize({ value }), { promoteValues: false }).value, {
          relaxed: false,
        });
      assert.equal(wire(mark), wire(higher), type);
      assert.equal(
        (h.marks.committed.get(stepId) as StoredMongoMark).value,
        BSON.EJSON.stringify(higher, { relaxed: false }),
        type,
      );
      if (type === 'date') assert.ok(mark instanceof Date);
      else if (type !== 'string')
        assert.equal(
          (mark as { _bsontype: string })._bsontype,
          (higher as { _bsontype: string })._bsontype,
          type,
        );
    }
  });

  test('initial bounds the first run; a changed cursor starts again from initial', async () => {
    const seen: Document[] = [];
    const initial = { $date: '2026-11-01T00:00:00Z' };
    await h.runStep(readingStep([{ at: day(3) }], seen, { cursor: 'at', initial }), {}, { stepId: 'init' });
    const first = (seen[0] as { $and: [Document, { at: { $gt: unknown } }] }).$and[1].at.$gt;
    assert.ok(first instanceof Date);
    assert.equal(first.toISOString(), '2026-11-01T00:00:00.000Z');
    h.marks.commit();
    await h.runStep(readingStep([{ seq: 5 }], seen, { cursor: 'seq', initial: 3 }), {}, { stepId: 'init' });
    const changed = (seen[1] as { $and: [Document, { seq: { $gt: unknown } }] }).$and[1].seq.$gt;
    assert.equal(String(changed), '3');
    assert.ok(h.logs.some((entry) => /the cursor changed from 'at' to 'seq'/.test(entry.message)));
    await assert.rejects(
      h.runStep(
        readingStep([], seen, { cursor: 'at', initial: { $date: 'next tuesday' } }),
        {},
        { stepId: 'bad' },
      ),
      pwError('PW_SPEC_TYPE', /with\.incremental\.initial is not a value a cursor can hold/),
    );
  });

  test('no document with the cursor, or two types in it: the step fails and proposes nothing', async () => {
    h.marks.proposed.clear();
    const seen: Document[] = [];
    await assert.rejects(
      h.runStep(readingStep([{ updated: day(1) }, { updated: day(2) }], seen), {}, { stepId: 'typo' }),
      pwError('PW_SPEC_TYPE', /none of the 2 documents read has the incremental cursor 'at'/),
    );
    await assert.rejects(
      h.runStep(
        readingStep([{ at: day(1) }, { at: day(2) }, { at: 'yesterday' }], seen),
        {},
        { stepId: 'mixed' },
      ),
      pwError('PW_DB_TYPE', /'at' holds values of two types, date and string/),
    );
    assert.equal(h.marks.proposed.size, 0);
  });
});
