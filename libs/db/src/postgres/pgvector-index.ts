import pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';
import type { AnnBuildProgress, AnnIndexDescription, AnnIndexState, AnnRebuildOptions, AnnRebuildReport, AnnStorage, VectorIndex, VectorMatch } from '../types.js';
import { checkDimensions, checkId, checkSearch, checkedSquaredNorm } from '../sqlite/vector-checks.js';
import type { PgContext } from './pg-context.js';

/** pgvector 0.8 builds HNSW indexes on `vector` columns of at most 2000 dimensions. */
export const maxHnswDimensions = 2000;
/** … and on `halfvec` expressions of at most 4000. */
export const maxHalfvecHnswDimensions = 4000;

/**
 * What the HNSW graph stores of each vector ({@link AnnStorage}): `vector` (float32, 4 bytes a
 * value) or `halfvec` (an index on the expression `embedding::halfvec(d)`: float16, 2 bytes a
 * value). The table keeps float32 either way, so answers found through a halfvec index are
 * re-ranked, and their distances computed, on the exact vectors.
 */
export type { AnnStorage };

/** How an HNSW index is built. */
export interface AnnIndexOptions {
  /** Default 'vector' (see {@link defaultAnnIndex}). */
  storage?: AnnStorage;
  /** Links per node (pgvector's `m`). */
  m?: number;
  /** Candidate list while building (pgvector's `ef_construction`). */
  efConstruction?: number;
  /** `maintenance_work_mem` of the build: room for the whole graph, or it slows down sharply once it spills. */
  maintenanceWorkMem?: string;
}

/**
 * The HNSW index a new model's table gets unless the store is told otherwise
 * (PGVECTOR_INDEX_STORAGE, PGVECTOR_M, PGVECTOR_EF_CONSTRUCTION): halfvec, m=16,
 * ef_construction=128, the build that met recall@1 0.99 at p99 under 10 ms with a million faces
 * (libs/db/README.md); pgvector's own defaults (vector, 16, 64) reached recall 0.977 there. The
 * halfvec graph is half the size; ef_construction 128 makes a build (and each insert) about a
 * quarter slower, which a watch-list, written rarely and searched always, can afford.
 */
export const defaultAnnIndex: AnnIndexDescription = { storage: 'halfvec', m: 16, efConstruction: 128 };

/** What a store tells its vector indexes: how new HNSW indexes are built, and its connections' ef_search. */
export interface PgVectorSettings {
  build: AnnIndexDescription;
  efSearch: number;
}

/** Rows per INSERT statement of an upsert (2 parameters each; PostgreSQL allows 65 535 per statement). */
const upsertChunk = 1000;

/** How often a process looks again at which HNSW index a table has (another process may have rebuilt it). */
export const annRecheckMs = 10_000;

/**
 * The advisory lock a rebuild of a table's index holds ($1: the table's name, resolved on the
 * connection's search_path): one bigint from the table's oid.
 */
export const rebuildLockKey = "hashtextextended('facewatch.vector-index:' || to_regclass($1)::oid::text, 0)";

/** How often a rebuild reads PostgreSQL's progress of the build. */
const progressEveryMs = 1000;

/**
 * pgvector's binary form (vector_recv): int16 dimensions, int16 0, then float32 big-endian values,
 * each multiplied by `scale`. node-postgres sends a Buffer parameter in binary, so vectors cross as
 * 4 bytes a value, with no text to print or parse (bulk upserts measured ~5× faster than
 * pgvector's text form).
 */
export function toVectorBinary(vector: Float32Array, scale = 1): Buffer {
  const out = Buffer.allocUnsafe(4 + 4 * vector.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setInt16(0, vector.length);
  view.setInt16(2, 0);
  for (let i = 0; i < vector.length; i++) view.setFloat32(4 + 4 * i, vector[i]! * scale);
  return out;
}

/**
 * The vector scaled to unit length, in binary. The table and the queries hold unit vectors: the
 * cosine distance does not change, and a halfvec index can always take them (float16 stops at
 * 65504; a unit vector's values lie within ±1).
 */
const unitBinary = (vector: Float32Array, squaredNorm: number): Buffer => toVectorBinary(vector, 1 / Math.sqrt(squaredNorm));

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Approximate cosine k-NN for one embedding model on pgvector: the vectors live in their own table
 * `vector_entries_<n>` (`id text PRIMARY KEY, embedding vector(dimensions)`) with an HNSW index
 * `vector_entries_<n>_hnsw` ({@link defaultAnnIndex} for new tables: `vector_cosine_ops`, m=16,
 * ef_construction=64; or, rebuilt with {@link buildAnnIndex}, cosine on
 * `embedding::halfvec(dimensions)`); `vector_indexes` maps the
 * model to n and fixes its dimension. A search orders by the cosine distance the index is built on
 * (`embedding::halfvec(d) <=> $1` or `embedding <=> $1`), takes k rows and returns their exact
 * float32 distances (`embedding <=> $1`), nearest first; the session's `hnsw.ef_search`
 * (the store's `efSearch`) sets how many candidates the graph walk keeps, and
 * `hnsw.iterative_scan = strict_order` lets the walk go on when k exceeds it or rows were deleted,
 * still nearest first. `maxDistance` is applied to the k rows returned (never as a WHERE clause,
 * which would make an iterative scan walk the whole graph looking for more). Equal distances are
 * ordered by id among the rows returned.
 *
 * Unlike the SQLite exact scan, every process sees the others' writes at once, nothing is held in
 * memory, and the answers are approximate: recall depends on ef_search (see `npm run
 * bench:pgvector`). Distances are computed by pgvector in float32 (the SQLite scan uses float64):
 * they agree to about 1e-6. Models of more than 2000 dimensions get no HNSW index (pgvector's
 * limit) and are searched exactly by a sequential scan.
 */
export class PgVectorIndex implements VectorIndex {
  readonly model: string;
  readonly dimensions: number;
  readonly #ctx: PgContext;
  /** The quoted table name (unqualified: the connections' search_path starts with the store's schema). */
  readonly #table: string;
  readonly #tableNumber: number;
  /** The storage of the table's HNSW index as last seen (undefined: none, the search is an exact scan). */
  #ann: AnnStorage | undefined;
  #annCheckedAt: number;
  /** How new HNSW indexes are built (the store's configuration), unless a rebuild says otherwise. */
  readonly #build: AnnIndexDescription;
  readonly #efSearch: number;

  private constructor(ctx: PgContext, model: string, dimensions: number, tableNumber: number, ann: AnnStorage | undefined, settings: PgVectorSettings) {
    this.#ctx = ctx;
    this.#build = settings.build;
    this.#efSearch = settings.efSearch;
    this.model = model;
    this.dimensions = dimensions;
    this.#tableNumber = tableNumber;
    this.#table = pg.escapeIdentifier(`vector_entries_${tableNumber}`);
    this.#ann = ann;
    this.#annCheckedAt = Date.now();
  }

  /** The storage of the HNSW index the table has now (undefined: none). */
  get annStorage(): AnnStorage | undefined {
    return this.#ann;
  }

  /**
   * Registers the model's index, creating its table and HNSW index the first time (in one
   * transaction: a process opening the same new model at the same moment waits on the
   * vector_indexes row and then finds it). A model's dimension is fixed from then on: another one
   * is INVALID_ARGUMENT.
   */
  static async open(ctx: PgContext, model: string, dimensions: number, settings: PgVectorSettings = { build: defaultAnnIndex, efSearch: 100 }): Promise<PgVectorIndex> {
    checkDimensions(dimensions, model);
    const { build } = settings;
    checkBuild(build);
    const tableNumber = await ctx.transaction(`opening the ${model} vector index`, async (tx) => {
      const [created] = await tx.query<{ id: number }>('INSERT INTO vector_indexes (model, dimensions) VALUES ($1, $2) ON CONFLICT (model) DO NOTHING RETURNING id', [
        model,
        dimensions,
      ]);
      if (created !== undefined) {
        const table = pg.escapeIdentifier(`vector_entries_${created.id}`);
        await tx.execute(`CREATE TABLE ${table} (id text COLLATE "C" PRIMARY KEY, embedding vector(${dimensions}) NOT NULL)`);
        if (dimensions <= maxAnnDimensions(build.storage)) await tx.execute(annIndexSql(created.id, dimensions, build));
        return created.id;
      }
      const [stored] = await tx.query<{ id: number; dimensions: number }>('SELECT id, dimensions FROM vector_indexes WHERE model = $1', [model]);
      if (stored === undefined) throw new AppError(ErrorCode.INTERNAL, `the ${model} vector index is registered and missing at once`);
      if (stored.dimensions !== dimensions) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${model} vector index has ${stored.dimensions} dimensions, not ${dimensions}`, {
          details: { model, expected: stored.dimensions, actual: dimensions },
        });
      }
      return stored.id;
    });
    return new PgVectorIndex(ctx, model, dimensions, tableNumber, await readAnnStorage(ctx, tableNumber, model), settings);
  }

  async upsert(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    // validate the whole batch before writing anything
    const squaredNorms = items.map(({ id, vector }) => {
      checkId(id, this.model);
      return checkedSquaredNorm(vector, this.dimensions, this.model, `vector ${id}`);
    });
    if (items.length === 0) return;
    // the last of repeated ids wins, as with one statement per item (ON CONFLICT cannot touch a row twice in one statement)
    const latest = new Map<string, Buffer>();
    for (const [i, { id, vector }] of items.entries()) {
      latest.delete(id);
      latest.set(id, unitBinary(vector, squaredNorms[i]!));
    }
    const entries = [...latest];
    await this.#ctx.transaction(`storing ${entries.length} vectors of ${this.model}`, async (tx) => {
      for (let i = 0; i < entries.length; i += upsertChunk) {
        const chunk = entries.slice(i, i + upsertChunk);
        const rows = chunk.map((_, j) => `($${2 * j + 1}, $${2 * j + 2}::vector)`);
        await tx.execute(
          `INSERT INTO ${this.#table} (id, embedding) VALUES ${rows.join(', ')} ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding`,
          chunk.flatMap(([id, vector]) => [id, vector]),
        );
      }
    });
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#ctx.query(`removing ${ids.length} vectors of ${this.model}`, `DELETE FROM ${this.#table} WHERE id = ANY($1::text[])`, [ids]);
  }

  async search(vector: Float32Array, k: number, options: { maxDistance?: number } = {}): Promise<VectorMatch[]> {
    const { maxDistance = Infinity } = options;
    checkSearch(k, options.maxDistance, this.model);
    const squaredNorm = checkedSquaredNorm(vector, this.dimensions, this.model, 'the query vector');
    if (Date.now() - this.#annCheckedAt > annRecheckMs) {
      this.#ann = await readAnnStorage(this.#ctx, this.#tableNumber, this.model);
      this.#annCheckedAt = Date.now();
    }
    const rows = await this.#ctx.query<{ id: string; distance: number }>(`searching ${this.model}`, searchSql(this.#table, this.dimensions, this.#ann), [
      unitBinary(vector, squaredNorm),
      k,
    ]);
    return (
      rows
        .filter((r) => r.distance <= maxDistance)
        .sort((a, b) => a.distance - b.distance || compareIds(a.id, b.id))
        // rounding can put identical or opposite vectors a hair outside 0..2
        .map((r) => ({ id: r.id, distance: Math.min(2, Math.max(0, r.distance)) }))
    );
  }

  async ids(): Promise<string[]> {
    const rows = await this.#ctx.query<{ id: string }>(`listing ${this.model}`, `SELECT id FROM ${this.#table}`);
    return rows.map((r) => r.id);
  }

  async count(): Promise<number> {
    const [row] = await this.#ctx.query<{ n: string }>(`counting ${this.model}`, `SELECT count(*) AS n FROM ${this.#table}`);
    return Number(row?.n ?? 0);
  }

  /**
   * Drops the HNSW index, for a bulk load: inserting into an indexed table is about 20× slower than
   * loading and then building the index once ({@link buildAnnIndex}). Searches are exact (and
   * slow) meanwhile.
   */
  async dropAnnIndex(): Promise<void> {
    await this.#ctx.query(`dropping the HNSW index of ${this.model}`, `DROP INDEX IF EXISTS ${pg.escapeIdentifier(`vector_entries_${this.#tableNumber}_hnsw`)}`);
    this.#ann = undefined;
    this.#annCheckedAt = Date.now();
  }

  /**
   * (Re)builds the HNSW index after {@link dropAnnIndex} and a bulk load (an index already there is
   * kept as it is: drop it first to change how it is built). `maintenanceWorkMem` (e.g. '2GB')
   * should hold the whole graph (about 1.7 KB per 512-d vector with halfvec, 2.7 KB with vector),
   * or the build slows down sharply once it spills. Other processes switch to the new index within
   * 10 s (they look at the table's index again that often).
   */
  async buildAnnIndex(options: AnnIndexOptions = {}): Promise<void> {
    const build = { ...this.#build, ...definedOnly(options) };
    checkBuild(build);
    if (this.dimensions > maxAnnDimensions(build.storage)) return;
    await this.#ctx.transaction(`building the HNSW index of ${this.model}`, async (tx) => {
      if (options.maintenanceWorkMem !== undefined) await tx.query("SELECT set_config('maintenance_work_mem', $1, true)", [options.maintenanceWorkMem]);
      await tx.execute(annIndexSql(this.#tableNumber, this.dimensions, build));
    });
    this.#ann = await readAnnStorage(this.#ctx, this.#tableNumber, this.model);
    this.#annCheckedAt = Date.now();
  }

  async describeAnn(): Promise<AnnIndexState> {
    return { inUse: await this.#annInUse(), configured: this.#build, efSearch: this.#efSearch };
  }

  async #annInUse(): Promise<AnnIndexDescription | undefined> {
    return describeIndex(await readIndexDef(this.#ctx, `vector_entries_${this.#tableNumber}_hnsw`, this.model));
  }

  /**
   * Builds a new HNSW index (`CREATE INDEX CONCURRENTLY` under a temporary name, so searches and
   * writes go on through the index in use), then switches the names in one transaction and, after
   * `switchWaitMs` (long enough for every process to look at the table's index again, see
   * {@link annRecheckMs}), drops the former index. Progress comes from PostgreSQL's
   * pg_stat_progress_create_index about once a second. One rebuild per index at a time (a session
   * advisory lock): another is INDEX_BUILD_RUNNING. A build that fails or is cut short leaves
   * the index in use as it was; its half-built index is dropped, here or by the next rebuild.
   */
  async rebuildAnn(options: AnnRebuildOptions & { switchWaitMs?: number } = {}, onProgress: (progress: AnnBuildProgress) => void = () => undefined): Promise<AnnRebuildReport> {
    const build: AnnIndexDescription = {
      storage: options.storage ?? this.#build.storage,
      m: options.m ?? this.#build.m,
      efConstruction: options.efConstruction ?? this.#build.efConstruction,
    };
    checkBuild(build);
    if (options.maintenanceWorkMem !== undefined && !/^\d+\s*(kB|MB|GB|TB)?$/.test(options.maintenanceWorkMem)) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `maintenanceWorkMem must be a size such as 512MB or 2GB, got ${JSON.stringify(options.maintenanceWorkMem)}`);
    }
    if (this.dimensions > maxAnnDimensions(build.storage)) {
      throw new AppError(
        ErrorCode.INVALID_ARGUMENT,
        `pgvector builds ${build.storage} HNSW indexes of at most ${maxAnnDimensions(build.storage)} dimensions; ${this.model} has ${this.dimensions}`,
      );
    }
    const switchWaitMs = options.switchWaitMs ?? 2 * annRecheckMs + 1000;
    const name = `vector_entries_${this.#tableNumber}_hnsw`;
    const [current, next, previous] = [name, `${name}_next`, `${name}_previous`].map((n) => pg.escapeIdentifier(n)) as [string, string, string];
    const before = await this.#annInUse();
    return this.#ctx.session(`rebuilding the HNSW index of ${this.model}`, async (session) => {
      // keyed by the table's oid: unique in the database, whichever schema the store uses
      const [lock] = await session.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${rebuildLockKey}) AS locked`, [`vector_entries_${this.#tableNumber}`]);
      if (lock?.locked !== true) {
        throw new AppError(ErrorCode.INDEX_BUILD_RUNNING, `the HNSW index of ${this.model} is being rebuilt already; wait for that build to end`, {
          details: { model: this.model },
        });
      }
      // what an earlier build cut short may have left
      await session.execute(`DROP INDEX CONCURRENTLY IF EXISTS ${next}`);
      await session.execute(`DROP INDEX CONCURRENTLY IF EXISTS ${previous}`);
      const [counted] = await session.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#table}`);
      const total = Number(counted?.n ?? 0);
      onProgress({ phase: 'starting', done: 0, total });
      if (options.maintenanceWorkMem !== undefined) await session.query("SELECT set_config('maintenance_work_mem', $1, false)", [options.maintenanceWorkMem]);
      const started = performance.now();
      const watching = this.#watchBuild(total, onProgress);
      try {
        await session.execute(annIndexSql(this.#tableNumber, this.dimensions, build, { name: next, concurrently: true }));
      } catch (err) {
        await session.execute(`DROP INDEX CONCURRENTLY IF EXISTS ${next}`).catch(() => undefined);
        throw err;
      } finally {
        await watching.stop();
        if (options.maintenanceWorkMem !== undefined) await session.execute('RESET maintenance_work_mem');
      }
      const buildMs = performance.now() - started;
      onProgress({ phase: 'switching to the new index', done: total, total });
      await session.execute('BEGIN');
      try {
        await session.execute(`ALTER INDEX IF EXISTS ${current} RENAME TO ${previous}`);
        await session.execute(`ALTER INDEX ${next} RENAME TO ${current}`);
        await session.execute('COMMIT');
      } catch (err) {
        await session.execute('ROLLBACK');
        throw err;
      }
      this.#ann = build.storage;
      this.#annCheckedAt = Date.now();
      if (before !== undefined) {
        onProgress({ phase: 'waiting for other processes to switch', done: total, total });
        await new Promise((resolve) => setTimeout(resolve, switchWaitMs));
        onProgress({ phase: 'dropping the former index', done: total, total });
        await session.execute(`DROP INDEX CONCURRENTLY IF EXISTS ${previous}`);
      }
      await session.query(`SELECT pg_advisory_unlock(${rebuildLockKey})`, [`vector_entries_${this.#tableNumber}`]);
      return { before, after: build, vectors: total, buildMs: Math.round(buildMs) };
    });
  }

  /** Reports PostgreSQL's progress of the build on this table about once a second until stopped. */
  #watchBuild(total: number, onProgress: (progress: AnnBuildProgress) => void): { stop(): Promise<void> } {
    let stopped = false;
    let wake: (() => void) | undefined;
    const loop = (async () => {
      while (!stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, progressEveryMs);
        });
        if (stopped) break;
        try {
          const [row] = await this.#ctx.query<{ phase: string; tuples_done: string }>(
            `watching the HNSW build of ${this.model}`,
            'SELECT phase, tuples_done FROM pg_stat_progress_create_index WHERE relid = to_regclass($1)',
            [`vector_entries_${this.#tableNumber}`],
          );
          if (row !== undefined && !stopped) onProgress({ phase: row.phase, done: Math.min(total, Number(row.tuples_done)), total });
        } catch {
          // progress is a courtesy: the build itself reports its own failure
        }
      }
    })();
    return {
      async stop() {
        stopped = true;
        wake?.();
        await loop;
      },
    };
  }
}

/** pgvector's limits on an HNSW build (m 2..100, ef_construction 4..1000 and ≥ 2·m), as INVALID_ARGUMENT. */
function checkBuild(build: AnnIndexDescription): void {
  if (build.storage !== 'vector' && build.storage !== 'halfvec') {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `the HNSW storage must be vector or halfvec, got ${JSON.stringify(build.storage)}`);
  }
  if (!Number.isInteger(build.m) || build.m < 2 || build.m > 100) throw new AppError(ErrorCode.INVALID_ARGUMENT, `m must be an integer from 2 to 100, got ${String(build.m)}`);
  if (!Number.isInteger(build.efConstruction) || build.efConstruction < 4 || build.efConstruction > 1000) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `ef_construction must be an integer from 4 to 1000, got ${String(build.efConstruction)}`);
  }
  if (build.efConstruction < 2 * build.m) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `ef_construction must be at least 2 × m (${2 * build.m}), got ${build.efConstruction}`);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const maxAnnDimensions = (storage: AnnStorage): number => (storage === 'halfvec' ? maxHalfvecHnswDimensions : maxHnswDimensions);

function annIndexSql(tableNumber: number, dimensions: number, build: AnnIndexDescription, as: { name?: string; concurrently?: boolean } = {}): string {
  const table = pg.escapeIdentifier(`vector_entries_${tableNumber}`);
  const index = as.name ?? pg.escapeIdentifier(`vector_entries_${tableNumber}_hnsw`);
  const m = Math.trunc(build.m),
    efConstruction = Math.trunc(build.efConstruction);
  const on = build.storage === 'halfvec' ? `((embedding::halfvec(${dimensions})) halfvec_cosine_ops)` : '(embedding vector_cosine_ops)';
  return `CREATE INDEX ${as.concurrently === true ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${index} ON ${table} USING hnsw ${on} WITH (m = ${m}, ef_construction = ${efConstruction})`;
}

/** The storage of the table's HNSW index, from its definition (undefined: no HNSW index). */
async function readAnnStorage(ctx: PgContext, tableNumber: number, model: string): Promise<AnnStorage | undefined> {
  return describeIndex(await readIndexDef(ctx, `vector_entries_${tableNumber}_hnsw`, model))?.storage;
}

/** An index's definition (pg_get_indexdef), '' when there is none. */
async function readIndexDef(ctx: PgContext, indexName: string, model: string): Promise<string> {
  const [row] = await ctx.query<{ def: string | null }>(`reading the HNSW index of ${model}`, `SELECT pg_get_indexdef(to_regclass($1)) AS def`, [pg.escapeIdentifier(indexName)]);
  return row?.def ?? '';
}

/**
 * How an HNSW index is built, from its definition, e.g. `CREATE INDEX … USING hnsw
 * (((embedding)::halfvec(512)) halfvec_cosine_ops) WITH (m='16', ef_construction='128')`; options
 * not written take pgvector's defaults (16, 64). Undefined: not one of facewatch's HNSW indexes.
 */
export function describeIndex(def: string): AnnIndexDescription | undefined {
  const storage = /halfvec_cosine_ops/.test(def) ? 'halfvec' : /vector_cosine_ops/.test(def) ? 'vector' : undefined;
  if (storage === undefined || !/USING hnsw/i.test(def)) return undefined;
  const option = (key: string, fallback: number): number => {
    const found = new RegExp(`\\b${key}\\s*=\\s*'?(\\d+)'?`).exec(def);
    return found ? Number(found[1]) : fallback;
  };
  return { storage, m: option('m', 16), efConstruction: option('ef_construction', 64) };
}

/**
 * The search statement for the index a table has: $1 the query (binary vector), $2 k. Through a
 * halfvec index, the k rows nearest by float16 distance are re-ranked by their exact distance
 * (the caller sorts), so only rows whose float16 and float32 distances order differently around the
 * k-th can differ from a float32 index's answer.
 */
export function searchSql(table: string, dimensions: number, ann: AnnStorage | undefined): string {
  if (ann !== 'halfvec') return `SELECT id, embedding <=> $1::vector AS distance FROM ${table} ORDER BY embedding <=> $1::vector LIMIT $2`;
  return `SELECT id, embedding <=> $1::vector AS distance FROM (SELECT id, embedding FROM ${table} ORDER BY embedding::halfvec(${dimensions}) <=> $1::vector::halfvec(${dimensions}) LIMIT $2) AS nearest`;
}
