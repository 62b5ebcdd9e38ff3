/** The REST API's JSON shapes the UI reads (docs/api.md and the UI contract); snake_case as sent. */
export type Scope = 'read' | 'operate' | 'admin';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface Session {
  token_name: string;
  scope: Scope;
  csrf_token: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string | null;
  step?: string | null;
}

export interface RunSummary {
  id: string;
  pipeline?: string;
  status: RunStatus;
  trigger?: string;
  queued_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  duration_ms?: number | null;
  error?: ErrorInfo | null;
}

export interface ParamSpec {
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'date';
  default?: string | number | boolean;
  required?: boolean;
  enum?: (string | number)[];
  description?: string;
}

export interface Pipeline {
  id: string;
  file?: string;
  description?: string | null;
  schedule?: { cron: string; timezone?: string | null; in_words?: string | null; next?: string[] } | null;
  paused: boolean;
  invalid_reason?: string | null;
  revision?: number | null;
  params?: Record<string, ParamSpec> | null;
  last_run?: RunSummary | null;
  recent_runs?: RunSummary[];
  definition?: { yaml: string; steps: { id: string; type: string; needs: string[] }[] } | null;
  stats?: { runs: RunSummary[]; success_rate: number | null } | null;
}

export interface StepAttempt {
  step: string;
  attempt: number;
  run_attempt?: number;
  status: RunStatus;
  started_at: string | null;
  finished_at: string | null;
  rows?: number | null;
  rows_in?: number | null;
  rows_out?: number | null;
  bytes?: number | null;
  warnings?: unknown[];
  error?: ErrorInfo | null;
}

export interface Artifact {
  id: number | string;
  step: string;
  name: string;
  bytes: number;
  content_type: string;
  created_at: string;
  deleted_at: string | null;
  download?: string;
}

export interface Delivery {
  id: number;
  run_id?: string;
  pipeline?: string;
  step: string | null;
  event: string;
  kind: string;
  target: string;
  subject?: string | null;
  status: string;
  attempts: number;
  error?: string | ErrorInfo | null;
  created_at: string;
}

export interface RunDetail extends RunSummary {
  pipeline: string;
  revision: number | null;
  params: Record<string, unknown> | null;
  scheduled_for?: string | null;
  attempt: number;
  steps: StepAttempt[];
  artifacts: Artifact[];
  deliveries: Delivery[];
}

export interface LogLine {
  id: number;
  at: string;
  level: string;
  step: string | null;
  message: string;
  data?: unknown;
}

export type Preview =
  | {
      kind: 'table';
      columns: { name: string; type: string }[];
      rows: unknown[][];
      total_rows: number;
      truncated: boolean;
    }
  | { kind: 'inline'; media_type: string; url: string }
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'none'; reason: string };

export interface TokenRecord {
  name: string;
  scope: Scope;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  token?: string;
}

export interface LoadRecord {
  run_id: string;
  step: string;
  target: string;
  rows: number | null;
  status: string;
  created_at: string;
}
