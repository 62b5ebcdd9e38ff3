/** The built-in step types, as one explicit list. */
import { StepRegistry } from './registry.js';
import { filesReadStep } from './extract/files-read.js';
import { sqlStep } from './transform/sql.js';
import { checkStep } from './transform/check.js';
import { filesWriteStep } from './load/files-write.js';
import { chartStep } from './report/chart.js';
import { reportStep } from './report/report.js';
import { emailStep } from './deliver/email.js';
import { webhookStep } from './deliver/webhook.js';
import { sqlQueryStep } from './extract/sql-query.js';
import { sqlLoadStep } from './load/sql-load.js';
import { sqlExecStep } from './transform/sql-exec.js';
import { sftpGetStep } from './extract/sftp-get.js';
import { sftpPutStep } from './load/sftp-put.js';
import { storagePutStep } from './storage/storage-put.js';
import { storageGetStep } from './storage/storage-get.js';
import { storageListStep } from './storage/storage-list.js';
import { storageDeleteStep } from './storage/storage-delete.js';
import { execStep } from './exec/exec.js';
import { httpFetchStep } from './extract/http-fetch.js';
import { mongodbFindStep } from './extract/mongodb-find.js';
import { mongodbAggregateStep } from './extract/mongodb-aggregate.js';
import { batchUnpackStep } from './batch/batch-unpack.js';
import { batchPackStep } from './batch/batch-pack.js';
import { filesConvertStep } from './transform/files-convert.js';

export function builtinRegistry(): StepRegistry {
  return new StepRegistry([
    filesReadStep,
    sqlStep,
    checkStep,
    filesWriteStep,
    chartStep,
    reportStep,
    emailStep,
    webhookStep,
    sqlQueryStep,
    sqlLoadStep,
    sqlExecStep,
    sftpGetStep,
    sftpPutStep,
    storagePutStep,
    storageGetStep,
    storageListStep,
    storageDeleteStep,
    execStep,
    httpFetchStep,
    mongodbFindStep,
    mongodbAggregateStep,
    batchUnpackStep,
    batchPackStep,
    filesConvertStep,
  ]);
}
