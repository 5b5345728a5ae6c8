import pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';
import type { VectorIndex, VectorMatch } from '../types.js';
import { checkDimensions, checkId, checkSearch, checkedSquaredNorm } from '../sqlite/vector-checks.js';
import type { PgContext } from './pg-context.js';

/** pgvector 0.8 builds HNSW indexes on `vector` columns of at most 2000 dimensions. */
export const maxHnswDimensions = 2000;
/** … and on `halfvec` expressions of at most 4000. */
export const maxHalfvecHnswDimensions = 4000;

/**
 * What the HNSW graph stores of each vector: `vector` (float32, 4 bytes a value) or `halfvec`
 * (an index on the expression `embedding::halfvec(d)`: float16, 2 bytes a value). The table keeps
 * float32 either way, so answers found through a halfvec index are re-ranked, and their distances
 * computed, on the exact vectors.
 */
export type AnnStorage = 'vector' | 'halfvec';

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
 * The HNSW index a new model's table gets: float32 `vector`, m=16, ef_construction=64 (pgvector's
 * defaults), as before. A halfvec index (half the size: see `npm run bench:pgvector` and
 * libs/db/README.md) is built with `buildAnnIndex({ storage: 'halfvec' })` after `dropAnnIndex()`.
 */
export const defaultAnnIndex: Required<Omit<AnnIndexOptions, 'maintenanceWorkMem'>> = { storage: 'vector', m: 16, efConstruction: 64 };

/** Rows per INSERT statement of an upsert (2 parameters each; PostgreSQL allows 65 535 per statement). */
const upsertChunk = 1000;

/** How often a process looks again at which HNSW index a table has (another process may have rebuilt it). */
const annRecheckMs = 10_000;

/**
 * pgvector's binary form (vector_recv): int16 dimensions, int16 0, then float32 big-endian values.
 * node-postgres sends a Buffer parameter in binary, so vectors cross as 4 bytes a value, with no
 * text to print or parse (bulk upserts measured ~5× faster than pgvector's text form).
 */
export function toVectorBinary(vector: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(4 + 4 * vector.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setInt16(0, vector.length);
  view.setInt16(2, 0);
  for (let i = 0; i < vector.length; i++) view.setFloat32(4 + 4 * i, vector[i]!);
  return out;
}

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

  private constructor(ctx: PgContext, model: string, dimensions: number, tableNumber: number, ann: AnnStorage | undefined) {
    this.#ctx = ctx;
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
  static async open(ctx: PgContext, model: string, dimensions: number): Promise<PgVectorIndex> {
    checkDimensions(dimensions, model);
    const tableNumber = await ctx.transaction(`opening the ${model} vector index`, async (tx) => {
      const [created] = await tx.query<{ id: number }>('INSERT INTO vector_indexes (model, dimensions) VALUES ($1, $2) ON CONFLICT (model) DO NOTHING RETURNING id', [
        model,
        dimensions,
      ]);
      if (created !== undefined) {
        const table = pg.escapeIdentifier(`vector_entries_${created.id}`);
        await tx.execute(`CREATE TABLE ${table} (id text COLLATE "C" PRIMARY KEY, embedding vector(${dimensions}) NOT NULL)`);
        if (dimensions <= maxAnnDimensions(defaultAnnIndex.storage)) await tx.execute(annIndexSql(created.id, dimensions, defaultAnnIndex));
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
    return new PgVectorIndex(ctx, model, dimensions, tableNumber, await readAnnStorage(ctx, tableNumber, model));
  }

  async upsert(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    // validate the whole batch before writing anything
    for (const { id, vector } of items) {
      checkId(id, this.model);
      checkedSquaredNorm(vector, this.dimensions, this.model, `vector ${id}`);
    }
    if (items.length === 0) return;
    // the last of repeated ids wins, as with one statement per item (ON CONFLICT cannot touch a row twice in one statement)
    const latest = new Map<string, Float32Array>();
    for (const { id, vector } of items) {
      latest.delete(id);
      latest.set(id, vector);
    }
    const entries = [...latest];
    await this.#ctx.transaction(`storing ${entries.length} vectors of ${this.model}`, async (tx) => {
      for (let i = 0; i < entries.length; i += upsertChunk) {
        const chunk = entries.slice(i, i + upsertChunk);
        const rows = chunk.map((_, j) => `($${2 * j + 1}, $${2 * j + 2}::vector)`);
        await tx.execute(
          `INSERT INTO ${this.#table} (id, embedding) VALUES ${rows.join(', ')} ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding`,
          chunk.flatMap(([id, vector]) => [id, toVectorBinary(vector)]),
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
    checkedSquaredNorm(vector, this.dimensions, this.model, 'the query vector');
    if (Date.now() - this.#annCheckedAt > annRecheckMs) {
      this.#ann = await readAnnStorage(this.#ctx, this.#tableNumber, this.model);
      this.#annCheckedAt = Date.now();
    }
    const rows = await this.#ctx.query<{ id: string; distance: number }>(`searching ${this.model}`, searchSql(this.#table, this.dimensions, this.#ann), [
      toVectorBinary(vector),
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
    const build = { ...defaultAnnIndex, ...options };
    if (this.dimensions > maxAnnDimensions(build.storage)) return;
    await this.#ctx.transaction(`building the HNSW index of ${this.model}`, async (tx) => {
      if (options.maintenanceWorkMem !== undefined) await tx.query("SELECT set_config('maintenance_work_mem', $1, true)", [options.maintenanceWorkMem]);
      await tx.execute(annIndexSql(this.#tableNumber, this.dimensions, build));
    });
    this.#ann = await readAnnStorage(this.#ctx, this.#tableNumber, this.model);
    this.#annCheckedAt = Date.now();
  }
}

const maxAnnDimensions = (storage: AnnStorage): number => (storage === 'halfvec' ? maxHalfvecHnswDimensions : maxHnswDimensions);

function annIndexSql(tableNumber: number, dimensions: number, build: Required<Omit<AnnIndexOptions, 'maintenanceWorkMem'>>): string {
  const table = pg.escapeIdentifier(`vector_entries_${tableNumber}`);
  const index = pg.escapeIdentifier(`vector_entries_${tableNumber}_hnsw`);
  const m = Math.trunc(build.m),
    efConstruction = Math.trunc(build.efConstruction);
  const on = build.storage === 'halfvec' ? `((embedding::halfvec(${dimensions})) halfvec_cosine_ops)` : '(embedding vector_cosine_ops)';
  return `CREATE INDEX IF NOT EXISTS ${index} ON ${table} USING hnsw ${on} WITH (m = ${m}, ef_construction = ${efConstruction})`;
}

/** The storage of the table's HNSW index, from its definition (undefined: no HNSW index). */
async function readAnnStorage(ctx: PgContext, tableNumber: number, model: string): Promise<AnnStorage | undefined> {
  const [row] = await ctx.query<{ def: string | null }>(`reading the HNSW index of ${model}`, `SELECT pg_get_indexdef(to_regclass($1)) AS def`, [
    pg.escapeIdentifier(`vector_entries_${tableNumber}_hnsw`),
  ]);
  const def = row?.def ?? '';
  return /halfvec_cosine_ops/.test(def) ? 'halfvec' : /vector_cosine_ops/.test(def) ? 'vector' : undefined;
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
