/**
 * Every error code Pipewright can emit, in one place. `docs/errors.md` documents each one and a test
 * fails when a code is missing there. The kind decides who must act: `user` errors are fixed by editing
 * input or configuration and are never retried; `operational` errors (network, timeouts, a busy store)
 * may pass on their own and are retried by retry policies; `internal` errors are bugs in Pipewright.
 */
export type ErrorKind = 'user' | 'operational' | 'internal';

export const ERROR_CODES = {
  PW_USAGE: { kind: 'user', title: 'Invalid command-line usage' },
  PW_PROJECT_NOT_FOUND: { kind: 'user', title: 'No Pipewright project in the folder' },
  PW_PIPELINE_NOT_FOUND: { kind: 'user', title: 'No pipeline with that id' },
  PW_YAML_SYNTAX: { kind: 'user', title: 'A YAML file could not be parsed' },
  PW_SPEC_INVALID: { kind: 'user', title: 'A pipeline definition has problems' },
  PW_SPEC_UNKNOWN_FIELD: { kind: 'user', title: 'A field is not part of the schema' },
  PW_SPEC_TYPE: { kind: 'user', title: 'A field has the wrong type or value' },
  PW_SPEC_UNKNOWN_STEP_TYPE: { kind: 'user', title: 'A step uses a type that does not exist' },
  PW_SPEC_DUPLICATE_STEP: { kind: 'user', title: 'Two steps share an id' },
  PW_SPEC_UNKNOWN_STEP_REF: { kind: 'user', title: 'A step refers to a step that does not exist' },
  PW_SPEC_CYCLE: { kind: 'user', title: 'Steps depend on each other in a cycle' },
  PW_SPEC_CRON: { kind: 'user', title: 'A cron expression is invalid' },
  PW_SPEC_TIMEZONE: { kind: 'user', title: 'A time zone is unknown' },
  PW_SPEC_DURATION: { kind: 'user', title: 'A duration is invalid' },
  PW_SPEC_TEMPLATE: { kind: 'user', title: 'A template does not parse' },
  PW_SPEC_ID_MISMATCH: { kind: 'user', title: 'A pipeline id does not match its file name' },
  PW_STEP_MODULE_INVALID: { kind: 'user', title: 'A user-written step module cannot be loaded' },
  PW_TEMPLATE_UNKNOWN_VARIABLE: { kind: 'user', title: 'A template refers to an unknown variable' },
  PW_TEMPLATE_RENDER: { kind: 'user', title: 'A template failed to render' },
  PW_SECRET_MISSING: { kind: 'user', title: 'A secret reference cannot be resolved' },
  PW_PARAM_INVALID: { kind: 'user', title: 'A run parameter is missing or invalid' },
  PW_INPUT_NOT_FOUND: { kind: 'user', title: 'An input file does not exist' },
  PW_INPUT_EMPTY: { kind: 'user', title: 'An input has no data' },
  PW_INPUT_MALFORMED: { kind: 'user', title: 'An input file has malformed content' },
  PW_INPUT_CHANGED: { kind: 'operational', title: 'An input file changed while it was being read' },
  PW_DATASET_UNKNOWN: { kind: 'user', title: 'A step reads a dataset that no earlier step produced' },
  PW_SQL_ERROR: { kind: 'user', title: 'A SQL statement failed' },
  PW_CHECK_FAILED: { kind: 'user', title: 'A data-quality check failed' },
  PW_OUTPUT_WRITE: { kind: 'operational', title: 'An output file could not be written' },
  PW_OUTPUT_EXISTS: { kind: 'user', title: 'An output path is already taken (existing file or a folder)' },
  PW_STEP_TIMEOUT: { kind: 'operational', title: 'A step ran past its timeout' },
  PW_RUN_TIMEOUT: { kind: 'operational', title: 'A run ran past its timeout' },
  PW_CANCELLED: { kind: 'operational', title: 'The run was cancelled' },
  PW_RUN_NOT_FOUND: { kind: 'user', title: 'No run with that id' },
  PW_RUN_NOT_RESUMABLE: { kind: 'user', title: 'The run cannot be resumed' },
  PW_WATCH_FILE_MISSING: {
    kind: 'user',
    title: "A watched file's run cannot be retried: the file is no longer in failed/",
  },
  PW_PROCESS_LOST: {
    kind: 'operational',
    title: 'The process running a step stopped before the step finished',
  },
  PW_STORE: { kind: 'operational', title: 'The state store failed' },
  PW_SERVER_UNREACHABLE: {
    kind: 'operational',
    title: 'The Pipewright server given with --server cannot be reached or did not answer properly',
  },
  PW_CONNECTION_UNKNOWN: {
    kind: 'user',
    title: 'A step names a connection that pipewright.yaml does not define, or one of the wrong type',
  },
  PW_STORE_UNREACHABLE: {
    kind: 'operational',
    title: 'The state store cannot be reached right now (connection refused, reset or lost)',
  },
  PW_IO: { kind: 'operational', title: 'A file-system operation failed' },
  PW_AUTH_REQUIRED: { kind: 'user', title: 'An API request has no valid bearer token' },
  PW_AUTH_FORBIDDEN: { kind: 'user', title: "The API token's scope does not allow the request" },
  PW_CSRF_REJECTED: {
    kind: 'user',
    title: 'A request with a session cookie lacks the CSRF token of its session',
  },
  PW_AUTH_THROTTLED: { kind: 'user', title: 'Too many failed sign-ins from this address' },
  PW_NOT_FOUND: { kind: 'user', title: 'No API resource at that address' },
  PW_REQUEST_INVALID: { kind: 'user', title: 'An API request is malformed or invalid' },
  PW_REQUEST_TOO_LARGE: { kind: 'user', title: 'An API request body is too large' },
  PW_TOKEN_NAME_TAKEN: { kind: 'user', title: 'An API token with that name exists' },
  PW_TOKEN_NOT_FOUND: { kind: 'user', title: 'No API token with that name' },
  PW_API_UNPROTECTED: {
    kind: 'user',
    title: 'The API would listen beyond loopback without any token',
  },
  // ---- delivery (email, webhook, notifications) ----
  PW_SMTP_AUTH: { kind: 'user', title: 'The SMTP server refused the login' },
  PW_DELIVERY_REJECTED: {
    kind: 'user',
    title: 'A mail server or webhook refused the message for good (SMTP 5xx, HTTP 4xx)',
  },
  PW_DELIVERY_UNAVAILABLE: {
    kind: 'operational',
    title: 'A mail server or webhook could not be reached, or kept answering with a temporary error',
  },
  PW_DELIVERY_TLS: {
    kind: 'user',
    title: "A mail server's TLS could not be set up or its certificate verified",
  },
  PW_ATTACHMENTS_TOO_LARGE: { kind: 'user', title: "An e-mail's attachments exceed the size limit" },
  // ---- charts ----
  PW_CHART_SPEC: { kind: 'user', title: 'A chart spec is invalid or does not fit its dataset' },
  PW_CHART_TOO_LARGE: { kind: 'user', title: 'A chart would draw more rows than its limit' },
  // ---- reports ----
  PW_REPORT_CHART_MISSING: { kind: 'user', title: 'A report shows a chart that no step of the run drew' },
  PW_REPORT_BROWSER_MISSING: {
    kind: 'user',
    title: 'No Chromium to render a report PDF with (the HTML report was written)',
  },
  PW_REPORT_BROWSER: {
    kind: 'operational',
    title: 'Chromium failed or timed out while rendering a report PDF (the HTML report was written)',
  },
  // ---- legacy .xls workbooks (files.read, files.convert) ----
  PW_SOFFICE_MISSING: {
    kind: 'user',
    title: 'No LibreOffice (soffice, package libreoffice-calc-nogui) to convert a legacy .xls workbook with',
  },
  PW_SOFFICE_FAILED: {
    kind: 'operational',
    title: 'LibreOffice crashed, failed or timed out while converting a legacy .xls workbook',
  },
  // ---- SQL and MongoDB connectors (sql.query, sql.load, sql.exec, mongodb.find, mongodb.aggregate) ----
  PW_DB_UNREACHABLE: {
    kind: 'operational',
    title: 'A database server cannot be reached (refused, timed out, connection lost)',
  },
  PW_DB_AUTH: { kind: 'user', title: 'A database server refused the login (user, password or database)' },
  PW_DB_TLS: {
    kind: 'user',
    title: "A database connection's TLS could not be set up or the server certificate failed verification",
  },
  PW_DB_QUERY: { kind: 'user', title: 'A database rejected a statement (syntax, missing table, permission)' },
  PW_DB_CONSTRAINT: {
    kind: 'user',
    title: 'Loaded rows violate a constraint or column type of the target table (nothing was committed)',
  },
  PW_DB_TYPE: {
    kind: 'user',
    title: 'A column type or value cannot be mapped between a database and DuckDB',
  },
  PW_DB_TRANSIENT: {
    kind: 'operational',
    title: 'A database statement failed for a passing reason (deadlock, serialization failure, lock timeout)',
  },
  // ---- object storage (storage.put, storage.get, storage.list, storage.delete) ----
  PW_STORAGE_BUCKET: { kind: 'user', title: 'An S3 bucket that a storage connection names does not exist' },
  PW_STORAGE_AUTH: { kind: 'user', title: 'An object store refused the credentials or access to the bucket' },
  PW_STORAGE_REQUEST: { kind: 'user', title: 'An object store refused a request (HTTP 4xx other than auth)' },
  PW_STORAGE_TLS: {
    kind: 'user',
    title: "An object store's TLS could not be set up or its certificate failed verification",
  },
  PW_STORAGE_UNAVAILABLE: {
    kind: 'operational',
    title: 'An object store could not be reached or failed for a passing reason (nothing partial is visible)',
  },
  PW_STORAGE_CHECKSUM: {
    kind: 'operational',
    title: 'The bytes of an uploaded or downloaded object do not match their checksum',
  },
  // ---- exec (running scripts and programs) ----
  PW_EXEC_SPAWN: {
    kind: 'user',
    title:
      'The program of an exec step cannot be started (not found, not executable, no such working folder)',
  },
  PW_EXEC_FAILED: {
    kind: 'operational',
    title: 'The command of an exec step exited with a non-zero code or was killed by a signal',
  },
  // ---- SFTP (sftp.get, sftp.put) ----
  PW_SFTP_UNREACHABLE: {
    kind: 'operational',
    title: 'An SFTP server cannot be reached (refused, no SSH handshake in time, connection lost)',
  },
  PW_SFTP_AUTH: {
    kind: 'user',
    title: 'An SFTP server refused the login, or the private key cannot be used',
  },
  PW_SFTP_HOST_KEY: {
    kind: 'user',
    title: "An SFTP server's host key does not match the pinned fingerprint (connection refused)",
  },
  PW_SFTP_REMOTE: {
    kind: 'user',
    title: 'A remote file operation failed (no such file, permission denied, incomplete transfer)',
  },
  // ---- HTTP (http.fetch) ----
  PW_HTTP_UNAVAILABLE: {
    kind: 'operational',
    title: 'An HTTP server could not be reached, timed out, or kept answering 429/5xx after every attempt',
  },
  PW_HTTP_STATUS: {
    kind: 'user',
    title: 'An HTTP server refused a request with a status that is not retried',
  },
  PW_HTTP_REDIRECT: { kind: 'user', title: 'An HTTP request redirects in a loop or more often than allowed' },
  PW_HTTP_TOO_LARGE: { kind: 'user', title: 'An HTTP response or download is larger than its size limit' },
  PW_HTTP_RESPONSE: {
    kind: 'user',
    title: 'An HTTP response cannot be used (not JSON, no records at the path, endless pagination)',
  },
  PW_BATCH_INVALID: { kind: 'user', title: 'A batch payload was refused (format, names, sizes, types)' },
  PW_INBOX_NOT_FOUND: { kind: 'user', title: 'No inbox with that name in pipewright.yaml' },
  PW_INTERNAL: { kind: 'internal', title: 'An unexpected internal error' },
} as const satisfies Record<string, { kind: ErrorKind; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function kindOf(code: ErrorCode): ErrorKind {
  return ERROR_CODES[code].kind;
}
