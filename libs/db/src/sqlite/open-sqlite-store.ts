import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';
import type { Store, VectorIndex } from '../types.js';
import { ExactVectorIndex } from './exact-vector-index.js';
import { migrate } from './migrations.js';
import type { SqliteContext } from './sqlite-context.js';
import { toStoreError } from './sqlite-errors.js';
import { SqlitePersonRepository } from './sqlite-person-repository.js';
import { SqliteProcessedRepository } from './sqlite-processed-repository.js';
import { SqliteAlertRepository, SqliteEvidenceRepository } from './sqlite-alert-repository.js';
import { SqliteDeliveryRepository, SqliteWebhookRepository } from './sqlite-webhook-repository.js';
import { SqliteAuditRepository } from './sqlite-audit-repository.js';
import { SqliteReferenceRepository } from './sqlite-reference-repository.js';
import { checkDimensions } from './vector-checks.js';

export interface SqliteStoreOptions {
  /** The database file (its folder is created), or ':memory:' for a private in-memory database. */
  path: string;
  log?: Logger;
  /** How long a statement waits for another connection's lock before failing with DB_UNAVAILABLE (retryable). Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating and migrating as needed) the SQLite store of the embedded profile: WAL journal,
 * foreign keys on, synchronous=NORMAL (a power cut may lose the last transactions, never corrupt
 * the file), busy_timeout. One connection, used synchronously: each call is short and the event loop
 * is blocked only for its duration. Vector indexes are exact scans held in memory (see
 * exact-vector-index.ts for why), loaded the first time `vectorIndex(model)` is asked for.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { path, log, busyTimeoutMs = 5000 } = options;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
  }
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: busyTimeoutMs });
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Only takes effect on a new file (before the first table). A 512-d float32 vector row is just over
    // 2 KB, so 4 KB pages hold one row each (half the file empty); 8 KB pages hold three: a 33 % smaller
    // file and about twice the insert rate (measured with bench:vector's data).
    db.pragma('page_size = 8192');
    const journal = db.pragma('journal_mode = WAL', { simple: true }) as string;
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (journal !== 'wal' && journal !== 'memory') log?.warn({ path, journal }, 'WAL journal not available: readers will wait for writers');
    const applied = migrate(db, log);
    log?.info({ path, journal, migrationsApplied: applied.length }, 'sqlite store opened');
  } catch (err) {
    db?.close();
    throw toStoreError(err, `opening the SQLite store ${path}`);
  }
  return new SqliteStore(db, log);
}

class SqliteStore implements Store {
  readonly persons: SqlitePersonRepository;
  readonly references: SqliteReferenceRepository;
  readonly processed: SqliteProcessedRepository;
  readonly alerts: SqliteAlertRepository;
  readonly evidence: SqliteEvidenceRepository;
  readonly webhooks: SqliteWebhookRepository;
  readonly deliveries: SqliteDeliveryRepository;
  readonly audit: SqliteAuditRepository;
  readonly #db: Database.Database;
  readonly #log: Logger | undefined;
  readonly #ctx: SqliteContext;
  readonly #indexes = new Map<string, ExactVectorIndex>();
  #closed = false;

  constructor(db: Database.Database, log: Logger | undefined) {
    this.#db = db;
    this.#log = log;
    const statements = new Map<string, Database.Statement>();
    const ctx: SqliteContext = {
      db,
      prepare: (sql) => {
        let statement = statements.get(sql);
        if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
        return statement;
      },
      run: (action, work) => {
        if (this.#closed) throw new AppError(ErrorCode.DB_UNAVAILABLE, `the SQLite store is closed (${action})`, { retryable: false });
        try {
          return work();
        } catch (err) {
          throw toStoreError(err, action);
        }
      },
    };
    this.#ctx = ctx;
    this.persons = new SqlitePersonRepository(ctx);
    this.references = new SqliteReferenceRepository(ctx);
    this.processed = new SqliteProcessedRepository(ctx);
    this.alerts = new SqliteAlertRepository(ctx);
    this.evidence = new SqliteEvidenceRepository(ctx);
    this.webhooks = new SqliteWebhookRepository(ctx);
    this.deliveries = new SqliteDeliveryRepository(ctx);
    this.audit = new SqliteAuditRepository(ctx);
  }

  /** The same instance per model; a model's dimension is fixed when its index is first created. */
  async vectorIndex(model: string, dimensions: number): Promise<VectorIndex> {
    checkDimensions(dimensions, model);
    const existing = this.#indexes.get(model);
    if (existing !== undefined) {
      if (existing.dimensions !== dimensions) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${model} vector index has ${existing.dimensions} dimensions, not ${dimensions}`, {
          details: { model, expected: existing.dimensions, actual: dimensions },
        });
      }
      return existing;
    }
    const started = performance.now();
    const index = ExactVectorIndex.open(this.#ctx, model, dimensions);
    this.#indexes.set(model, index);
    this.#log?.info({ model, dimensions, vectors: await index.count(), durationMs: Math.round(performance.now() - started) }, 'vector index loaded');
    return index;
  }

  async ping(): Promise<void> {
    this.#ctx.run('pinging', () => this.#db.prepare('SELECT 1').get());
  }

  /** Idempotent. Later calls on the store reject with DB_UNAVAILABLE (not retryable). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#indexes.clear();
    this.#db.close();
  }
}
