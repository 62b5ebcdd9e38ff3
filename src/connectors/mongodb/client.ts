/**
 * The client factory: one MongoClient of the official driver per step (or per connection test), with
 * the connection's TLS and timeouts, loaded on first use so projects without MongoDB never load the
 * driver. Errors are the driver's (see errors.ts).
 */
import type { Db, MongoClient, MongoClientOptions } from 'mongodb';
import type { MongoSettings } from './config.js';

export interface MongoSession {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export function clientOptions(settings: MongoSettings): MongoClientOptions {
  return {
    appName: 'pipewright',
    connectTimeoutMS: settings.connectTimeoutMs,
    serverSelectionTimeoutMS: settings.connectTimeoutMs,
    socketTimeoutMS: settings.socketTimeoutMs,
    ...(settings.tls === undefined ? {} : { tls: settings.tls }),
    ...(settings.caFile === undefined ? {} : { tlsCAFile: settings.caFile }),
    ...(settings.verify ? {} : { tlsAllowInvalidCertificates: true, tlsAllowInvalidHostnames: true }),
  };
}

/** Connects (server selection, TLS, login) and returns the database `database` (or the connection's). */
export async function openMongo(
  settings: MongoSettings,
  database: string | undefined,
): Promise<MongoSession> {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(settings.url, clientOptions(settings));
  try {
    await client.connect();
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  return { client, db: client.db(database ?? settings.database), close: () => client.close() };
}

/** `pipewright connections test`: connect and ping the server. */
export async function pingMongo(settings: MongoSettings): Promise<void> {
  const session = await openMongo(settings, settings.database ?? 'admin');
  try {
    await session.db.command({ ping: 1 });
  } finally {
    await session.close();
  }
}
