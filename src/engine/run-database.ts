/**
 * The run's own DuckDB database file. Every step gets its own connection, so steps can run
 * concurrently and an aborted step can be interrupted without touching the others. Memory is capped
 * and spills go to the run's workspace, which keeps large inputs within bounded memory.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBInstance, DuckDBConnection } from '@duckdb/node-api';
import { PwError } from '../core/errors/pw-error.js';

export interface RunDatabaseOptions {
  memoryLimit: string;
  threads?: number | undefined;
}

export interface RunDatabase {
  readonly path: string;
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

export async function openRunDatabase(path: string, options: RunDatabaseOptions): Promise<RunDatabase> {
  await mkdir(dirname(path), { recursive: true });
  const settings: Record<string, string> = {
    memory_limit: options.memoryLimit,
    temp_directory: join(dirname(path), 'duckdb-spill'),
    // Insertion order matters to users reading CSVs back; DuckDB keeps it unless told otherwise.
    preserve_insertion_order: 'true',
    // Nothing is downloadable on the machines Pipewright runs on; fail fast instead of hanging.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'true',
  };
  if (options.threads !== undefined) settings.threads = String(options.threads);
  // Loaded on first use: a serve process that only schedules and answers the API never needs DuckDB.
  const { DuckDBInstance: Instance } = await import('@duckdb/node-api');
  let instance: DuckDBInstance;
  try {
    instance = await Instance.create(path, settings);
  } catch (cause) {
    throw new PwError('PW_IO', `Cannot open the run database ${path}: ${(cause as Error).message}`, {
      cause,
      hint: 'Check that the workspace folder is writable and that no other process holds this run open.',
    });
  }
  return {
    path,
    connect: () => instance.connect(),
    // Closing checkpoints: the WAL is folded into the database file.
    close: () => {
      instance.closeSync();
    },
  };
}
