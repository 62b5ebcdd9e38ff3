/** A run's parameters as a form built from the pipeline's `params`, checked here and by the server. */
import { useState } from 'preact/hooks';
import type { ParamSpec } from '../types.js';

export type FieldErrors = Record<string, string>;

/** Converts and checks the entered values like the server does; returns the values or per-field errors. */
export function checkParams(
  specs: Record<string, ParamSpec>,
  raw: Record<string, string>,
): { values: Record<string, string | number | boolean>; errors: FieldErrors } {
  const values: Record<string, string | number | boolean> = {};
  const errors: FieldErrors = {};
  for (const [name, spec] of Object.entries(specs)) {
    const text = (raw[name] ?? '').trim();
    const type = spec.type ?? 'string';
    if (type === 'boolean') {
      values[name] = raw[name] === 'true';
      continue;
    }
    if (text === '') {
      if (spec.required === true && spec.default === undefined) errors[name] = 'required: enter a value';
      continue;
    }
    if (type === 'number' || type === 'integer') {
      const value = Number(text);
      if (!Number.isFinite(value)) errors[name] = `expected a number, found '${text}'`;
      else if (type === 'integer' && !Number.isInteger(value))
        errors[name] = `expected a whole number, found '${text}'`;
      else values[name] = value;
    } else if (type === 'date') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) errors[name] = `expected a date as YYYY-MM-DD, found '${text}'`;
      else values[name] = text;
    } else {
      values[name] = text;
    }
    const value = values[name];
    if (spec.enum && value !== undefined && !spec.enum.map(String).includes(String(value))) {
      errors[name] = `expected one of ${spec.enum.join(', ')}`;
      delete values[name];
    }
  }
  return { values, errors };
}

export interface ParamsFormProps {
  specs: Record<string, ParamSpec>;
  serverErrors: FieldErrors;
  generalError: string | null;
  busy: boolean;
  onSubmit: (values: Record<string, string | number | boolean>) => void;
  onCancel: () => void;
}

export function ParamsForm({ specs, serverErrors, generalError, busy, onSubmit, onCancel }: ParamsFormProps) {
  const [raw, setRaw] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      Object.entries(specs).map(([name, spec]) => [
        name,
        spec.default === undefined ? '' : String(spec.default),
      ]),
    ),
  );
  const [localErrors, setLocalErrors] = useState<FieldErrors>({});
  const errors = { ...serverErrors, ...localErrors };
  const names = Object.keys(specs);

  const submit = (event: Event) => {
    event.preventDefault();
    const checked = checkParams(specs, raw);
    setLocalErrors(checked.errors);
    if (Object.keys(checked.errors).length === 0) onSubmit(checked.values);
  };

  return (
    <form onSubmit={submit} noValidate class="params-form">
      {names.length === 0 ? <p>This pipeline has no parameters.</p> : null}
      {names.map((name) => {
        const spec = specs[name] ?? {};
        const id = `param-${name}`;
        const error = errors[name];
        const describedBy = [spec.description ? `${id}-help` : '', error ? `${id}-error` : '']
          .filter(Boolean)
          .join(' ');
        const common = {
          id,
          name,
          'aria-invalid': error ? ('true' as const) : undefined,
          'aria-describedby': describedBy || undefined,
        };
        const set = (value: string) => setRaw((old) => ({ ...old, [name]: value }));
        return (
          <div class={`field${error ? ' invalid' : ''}`} key={name}>
            <label for={id}>
              {name}
              {spec.required === true ? ' (required)' : ''} <span class="muted">{spec.type ?? 'string'}</span>
            </label>
            {spec.type === 'boolean' ? (
              <select
                {...common}
                value={raw[name] === 'true' ? 'true' : 'false'}
                onChange={(e) => set(e.currentTarget.value)}
              >
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : spec.enum ? (
              <select {...common} value={raw[name] ?? ''} onChange={(e) => set(e.currentTarget.value)}>
                <option value="">(default)</option>
                {spec.enum.map((option) => (
                  <option key={String(option)} value={String(option)}>
                    {String(option)}
                  </option>
                ))}
              </select>
            ) : spec.type === 'date' ? (
              <input
                {...common}
                type="date"
                value={raw[name] ?? ''}
                onInput={(e) => set(e.currentTarget.value)}
              />
            ) : (
              <input
                {...common}
                type="text"
                inputMode={spec.type === 'number' || spec.type === 'integer' ? 'decimal' : undefined}
                value={raw[name] ?? ''}
                onInput={(e) => set(e.currentTarget.value)}
              />
            )}
            {spec.description ? (
              <span class="help" id={`${id}-help`}>
                {spec.description}
              </span>
            ) : null}
            {error ? (
              <span class="error" id={`${id}-error`} role="alert">
                {error}
              </span>
            ) : null}
          </div>
        );
      })}
      {generalError ? (
        <p class="error" role="alert">
          {generalError}
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start run'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
