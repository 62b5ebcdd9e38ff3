/**
 * What a Vega-Lite spec written for a `chart` step must satisfy before anything is drawn: no `data`
 * at the top (the rows come from `input`), nothing loaded from a URL anywhere (a chart renders on
 * the server, unattended, and must not fetch), and Vega-Lite's own schema.
 */
import { isPlainObject } from '../../core/spec/paths.js';
import { validateVegaLite, type SpecProblem } from './chart-vl-validate.js';

/** The name under which the input rows are attached while a spec is only being checked. */
export const INPUT_DATA_NAME = 'input';

function urlProblems(node: unknown, path: (string | number)[], out: SpecProblem[]): void {
  if (Array.isArray(node)) {
    node.forEach((item, index) => urlProblems(item, [...path, index], out));
    return;
  }
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'data' && isPlainObject(value) && value['url'] !== undefined) {
      out.push({
        path: [...path, key, 'url'],
        message: 'A chart cannot load data from a URL',
        expected: 'inline data (values) or none',
        found: typeof value['url'] === 'string' ? `the URL '${value['url']}'` : 'a url field',
        hint: 'Charts render on the server without network access. Read the data with files.read (or a step of your own) and chart that dataset through input:.',
      });
      continue;
    }
    urlProblems(value, [...path, key], out);
  }
}

/** Problems of a spec as written (before Pipewright adds data and defaults), in document order. */
export function checkSpecShape(spec: Record<string, unknown>): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (spec['data'] !== undefined) {
    problems.push({
      path: ['data'],
      message: 'The chart’s data comes from input; the spec must not set data at its top',
      expected: 'no data field (layers may still bring their own inline values)',
      found: isPlainObject(spec['data']) ? 'a data mapping' : 'a data field',
      hint: 'Remove data: the rows of the input dataset are attached when the chart is drawn.',
    });
  }
  urlProblems(spec, [], problems);
  if (problems.length > 0) return problems;
  return validateVegaLite({ ...spec, data: { name: INPUT_DATA_NAME } });
}
