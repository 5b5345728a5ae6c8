import { PgAuditRepository } from './pg-audit-repository.js';
import { PgAlertRepository, PgDeliveryRepository, PgEvidenceRepository, PgWebhookRepository } from './pg-alert-repository.js';
import pg from 'pg';
import pgvector from 'pgvector/pg';
import { AppError, ErrorCode, type AppConfig, type Logger } from '@facewatch/core';
import type { AnnIndexDescription, Store, VectorIndex } from '../types.js';
import { checkDimensions } from '../sqlite/vector-checks.js';
import { pgContext, type PgContext } from './pg-context.js';
import { toPgStoreError } from './pg-errors.js';
import { migratePostgres, searchPath } from './pg-migrations.js';
import { PgPersonRepository } from './pg-person-repository.js';
import { PgProcessedRepository } from './pg-processed-repository.js';
import { PgReferenceRepository } from './pg-reference-repository.js';
import { defaultAnnIndex, PgVectorIndex, type PgVectorSettings } from './pgvector-index.js';

export interface PostgresStoreOptions {
  /** libpq-style URL, e.g. postgresql://user:secret@host:5432/facewatch (never logged). */
  connectionString: string;
  log?: Logger;
  /** Most connections the pool opens. Default 10. */
  poolSize?: number;
  /**
   * `hnsw.ef_search` of every connection: candidates the HNSW walk keeps per query (1..1000).
   * Higher is slower and closer to exact. Default 100: with clustered 512-d face-like vectors it
   * finds the true nearest neighbour for every query measured (bench:pgvector, README).
   */
  efSearch?: number;
  /**
   * How a model's HNSW index is built when its table is created, and by a rebuild without options
   * (`VectorIndex.rebuildAnn`). Default {@link defaultAnnIndex} (halfvec, m 16, ef_construction 128).
   */
  annIndex?: AnnIndexDescription;
  /** Schema holding every table, created if missing. Default 'public'. Tests isolate by unique schemas. */
  schema?: string;
  /** How long to wait for a connection (a new one, or a free one from a busy pool) before DB_UNAVAILABLE (retryable). Default 10000. */
  connectTimeoutMs?: number;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

/**
 * Opens the PostgreSQL + pgvector store of the scale profile: creates the vector extension and the
 * schema if missing and applies the migrations (one transaction under an advisory lock, so
 * processes starting together do not race), then serves every call from a pool whose connections
 * start with `search_path` = the schema (then the extension's schema), `hnsw.ef_search` =
 * `efSearch`, `hnsw.iterative_scan = strict_order`, and pgvector's types registered. A server that
 * cannot be reached or drops the connection gives DB_UNAVAILABLE (retryable); the pool reconnects
 * by itself once the server is back.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { connectionString, log, poolSize = 10, efSearch = 100, schema = 'public', connectTimeoutMs = 10_000, annIndex = defaultAnnIndex } = options;
  if (typeof connectionString !== 'string' || connectionString === '') throw new AppError(ErrorCode.INVALID_ARGUMENT, 'connectionString is required');
  checkInteger('poolSize', poolSize, 1, 10_000);
  checkInteger('efSearch', efSearch, 1, 1000);
  checkInteger('connectTimeoutMs', connectTimeoutMs, 0, 3_600_000);
  if (typeof schema !== 'string' || schema === '' || Buffer.byteLength(schema) > 63 || schema.includes('\u0000')) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `schema must be a name of 1 to 63 bytes, got ${JSON.stringify(schema)}`);
  }
  const started = performance.now();
  let extensionSchema: string;
  const setup = new pg.Client({ connectionString, connectionTimeoutMillis: connectTimeoutMs });
  // a server dying mid-setup emits 'error' on the client: without a listener that would crash the process
  setup.on('error', () => undefined);
  try {
    await setup.connect();
    const result = await migratePostgres(setup, schema, log);
    extensionSchema = result.extensionSchema;
    if (result.applied.length > 0) log?.info({ schema, migrationsApplied: result.applied }, 'postgres schema migrated');
  } catch (err) {
    throw toPgStoreError(err, `opening the PostgreSQL store (schema ${schema})`);
  } finally {
    await setup.end().catch(() => undefined);
  }

  const sessionSql = `SET search_path TO ${searchPath(schema, extensionSchema)}; SET hnsw.ef_search = ${efSearch}; SET hnsw.iterative_scan = strict_order`;
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    connectionTimeoutMillis: connectTimeoutMs,
    keepAlive: true,
    // pg-pool (≥ 3.10) awaits onConnect's promise before it hands the client out
    // oxlint-disable-next-line typescript/no-misused-promises
    onConnect: async (client) => {
      await client.query(sessionSql);
      await pgvector.registerTypes(client);
    },
  });
  // An idle connection that fails (server restart, network) is dropped by the pool and reported here;
  // the next query opens a new one. Without a listener the error would crash the process.
  pool.on('error', (err) => log?.warn({ err }, 'idle PostgreSQL connection failed'));
  const store = new PostgresStore(pool, log, { build: annIndex, efSearch });
  try {
    await store.ping();
  } catch (err) {
    await store.close();
    throw err;
  }
  log?.info({ schema, extensionSchema, poolSize, efSearch, durationMs: Math.round(performance.now() - started) }, 'postgres store opened');
  return store;
}

class PostgresStore implements Store {
  readonly persons: PgPersonRepository;
  readonly references: PgReferenceRepository;
  readonly processed: PgProcessedRepository;
  readonly alerts: PgAlertRepository;
  readonly evidence: PgEvidenceRepository;
  readonly webhooks: PgWebhookRepository;
  readonly deliveries: PgDeliveryRepository;
  readonly audit: PgAuditRepository;
  readonly #pool: pg.Pool;
  readonly #log: Logger | undefined;
  readonly #ctx: PgContext;
  readonly #vectorSettings: PgVectorSettings;
  /** Promises, so two calls for a new model at once share one instance. */
  readonly #indexes = new Map<string, Promise<PgVectorIndex>>();
  #closed = false;

  constructor(pool: pg.Pool, log: Logger | undefined, vectorSettings: PgVectorSettings) {
    this.#pool = pool;
    this.#vectorSettings = vectorSettings;
    this.#log = log;
    this.#ctx = pgContext(pool, () => this.#closed);
    this.persons = new PgPersonRepository(this.#ctx);
    this.references = new PgReferenceRepository(this.#ctx);
    this.processed = new PgProcessedRepository(this.#ctx);
    this.alerts = new PgAlertRepository(this.#ctx);
    this.evidence = new PgEvidenceRepository(this.#ctx);
    this.webhooks = new PgWebhookRepository(this.#ctx);
    this.deliveries = new PgDeliveryRepository(this.#ctx);
    this.audit = new PgAuditRepository(this.#ctx);
  }

  /** The same instance per model; a model's dimension is fixed when its index is first created (in the database, for every process). */
  async vectorIndex(model: string, dimensions: number): Promise<VectorIndex> {
    checkDimensions(dimensions, model);
    let pending = this.#indexes.get(model);
    if (pending === undefined) {
      const started = performance.now();
      pending = PgVectorIndex.open(this.#ctx, model, dimensions, this.#vectorSettings);
      this.#indexes.set(model, pending);
      pending
        .then(
          async (index) => {
            if (this.#log !== undefined) {
              this.#log.info({ model, dimensions, vectors: await index.count(), durationMs: Math.round(performance.now() - started) }, 'vector index opened');
            }
          },
          () => this.#indexes.delete(model),
        )
        .catch(() => undefined);
    }
    const index = await pending;
    if (index.dimensions !== dimensions) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${model} vector index has ${index.dimensions} dimensions, not ${dimensions}`, {
        details: { model, expected: index.dimensions, actual: dimensions },
      });
    }
    return index;
  }

  async ping(): Promise<void> {
    await this.#ctx.query('pinging', 'SELECT 1');
  }

  /** Idempotent; waits for the connections in use to be returned. Later calls reject with DB_UNAVAILABLE (not retryable). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#indexes.clear();
    await this.#pool.end();
  }
}

/** The scale profile's store as configured (DATABASE_URL, PG_SCHEMA, PG_POOL_SIZE, PGVECTOR_EF_SEARCH, PGVECTOR_INDEX_STORAGE, PGVECTOR_M, PGVECTOR_EF_CONSTRUCTION). */
export function openConfiguredPostgresStore(config: AppConfig, databaseUrl: string, log: Logger): Promise<Store> {
  return openPostgresStore({
    connectionString: databaseUrl,
    log: log.child({ component: 'store' }),
    poolSize: config.scale.pgPoolSize,
    efSearch: config.scale.efSearch,
    annIndex: config.scale.annIndex,
    schema: config.scale.pgSchema,
  });
}
