import { randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';

/**
 * The PostgreSQL server under test (with pgvector available), from DATABASE_URL. Missing, it is a
 * failure, not a skip: CI must not pass these tests without a server (`bash scripts/services.sh up
 * postgres` prints the variable).
 */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error('DATABASE_URL is not set: the PostgreSQL tests need a server with pgvector (`bash scripts/services.sh up postgres` prints it)');
  }
  return url;
}

/** A schema name no other test (or test run) uses. */
export function uniqueSchema(label: string): string {
  return `fw_test_${label}_${randomUUID().slice(0, 8)}`;
}

/** Runs `work` on a fresh connection outside any store (to inspect or tamper with what a store wrote). */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(), connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  if (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '') return;
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`));
}

/** DATABASE_URL with its host and port replaced (to reach the server through a proxy, or nothing). */
export function urlVia(host: string, port: number): string {
  const url = new URL(databaseUrl());
  url.hostname = host;
  url.port = String(port);
  return url.toString();
}

/**
 * A TCP relay to the PostgreSQL server that the test can "stop" (close the listener and cut every
 * relayed connection, as a server that went down) and start again on the same port.
 */
export class TcpRelay {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor() {
    const url = new URL(databaseUrl());
    this.#target = { host: url.hostname, port: url.port === '' ? 5432 : Number(url.port) };
  }

  async start(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect(this.#target);
      for (const s of [inbound, outbound]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('relay has no port');
    this.port = address.port;
    this.#server = server;
  }

  /** Refuses new connections and drops the open ones. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return urlVia('127.0.0.1', this.port);
  }
}
