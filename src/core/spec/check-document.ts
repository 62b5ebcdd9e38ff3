/**
 * Checks on the pipeline document as a whole that the zod schema cannot make: the id against the
 * file name, real time zones, a cron expression that parses and can fire, and parameter defaults
 * that fit their declared type. Each runs on the raw document, so it works even when other parts
 * of the file are broken.
 */
import { PIPELINE_ID } from './pipeline-schema.js';
import { isPlainObject } from './paths.js';
import type { IssueList } from './issue-list.js';
import {
  checkCron,
  checkParamEnum,
  checkParamValue,
  checkTimeZone,
  PARAM_TYPES,
  type ParamType,
} from './checks.js';

export interface DocumentCheckOptions {
  expectedId?: string | undefined;
  projectTimezone?: string | undefined;
}

/** Document-level checks: the id against the file name, time zones, the cron schedule, parameters. */
export function checkDocument(
  doc: Record<string, unknown>,
  issues: IssueList,
  options: DocumentCheckOptions,
): void {
  const id = doc['id'];
  // A malformed id is already reported by the schema; comparing it with the file name adds nothing.
  if (
    options.expectedId !== undefined &&
    typeof id === 'string' &&
    PIPELINE_ID.test(id) &&
    id !== options.expectedId
  ) {
    issues.add('PW_SPEC_ID_MISMATCH', ['id'], `Pipeline id '${doc['id']}' does not match its file name`, {
      expected: `'${options.expectedId}'`,
      found: `'${doc['id']}'`,
      hint: `Change the id to '${options.expectedId}', or rename the file to ${doc['id']}.yaml.`,
    });
  }
  if (typeof doc['timezone'] === 'string') {
    const problem = checkTimeZone(doc['timezone']);
    if (problem) issues.problem('PW_SPEC_TIMEZONE', ['timezone'], problem, doc['timezone']);
  }
  const schedule = doc['schedule'];
  if (isPlainObject(schedule)) {
    const zone =
      typeof schedule['timezone'] === 'string' ? schedule['timezone'] : (options.projectTimezone ?? 'UTC');
    if (typeof schedule['timezone'] === 'string') {
      const problem = checkTimeZone(schedule['timezone']);
      if (problem)
        issues.problem('PW_SPEC_TIMEZONE', ['schedule', 'timezone'], problem, schedule['timezone']);
    }
    if (typeof schedule['cron'] === 'string') {
      const problem = checkCron(schedule['cron'], zone);
      if (problem) issues.problem('PW_SPEC_CRON', ['schedule', 'cron'], problem, schedule['cron']);
    }
  }
  const params = doc['params'];
  if (isPlainObject(params)) {
    for (const [name, param] of Object.entries(params)) {
      if (isPlainObject(param)) checkParam(name, param, issues);
    }
  }
}

function checkParam(name: string, param: Record<string, unknown>, issues: IssueList): void {
  const type = param['type'] ?? 'string';
  if (!PARAM_TYPES.includes(type as ParamType)) return;
  const allowed = Array.isArray(param['enum']) ? param['enum'] : undefined;
  allowed?.forEach((entry, index) => {
    const problem = checkParamValue(type as ParamType, entry);
    if (problem && (typeof entry === 'string' || typeof entry === 'number')) {
      issues.problem(
        'PW_SPEC_TYPE',
        ['params', name, 'enum', index],
        { ...problem, message: `Enum value of parameter '${name}' does not match its type ${String(type)}` },
        entry,
      );
    }
  });
  const value = param['default'];
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return;
  const problem =
    checkParamValue(type as ParamType, value) ?? (allowed ? checkParamEnum(value, allowed) : undefined);
  if (problem) {
    const message = problem.message.startsWith('Value')
      ? `Default of parameter '${name}' does not match its type ${String(type)}`
      : `Default of parameter '${name}' is not one of its allowed values`;
    issues.problem('PW_SPEC_TYPE', ['params', name, 'default'], { ...problem, message }, value);
  }
}
