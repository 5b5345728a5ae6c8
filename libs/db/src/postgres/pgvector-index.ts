import pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';
import type { VectorIndex, VectorMatch } from '../types.js';
import { checkDimensions, checkId, checkSearch, checkedSquaredNorm } from '../sqlite/vector-checks.js';
import type { PgContext } from './pg-context.js';

/** pgvector 0.8 builds HNSW indexes on `vector` columns of at most 2000 dimensions. */
export const maxHnswDimensions = 2000;

/** HNSW build parameters (pgvector's defaults): 16 links per node, a candidate list of 64 while building. */
const hnswM = 16;
const hnswEfConstruction = 64;

/** Rows per INSERT statement of an upsert (2 parameters each; PostgreSQL allows 65 535 per statement). */
const upsertChunk = 1000;

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
 * (`vector_cosine_ops`, m=16, ef_construction=64); `vector_indexes` maps the model to n and fixes
 * its dimension. A search is `ORDER BY embedding <=> $1 LIMIT k`; the session's `hnsw.ef_search`
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

  private constructor(ctx: PgContext, model: string, dimensions: number, tableNumber: number) {
    this.#ctx = ctx;
    this.model = model;
    this.dimensions = dimensions;
    this.#tableNumber = tableNumber;
    this.#table = pg.escapeIdentifier(`vector_entries_${tableNumber}`);
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
        if (dimensions <= maxHnswDimensions) await tx.execute(annIndexSql(created.id));
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
    return new PgVectorIndex(ctx, model, dimensions, tableNumber);
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
    const rows = await this.#ctx.query<{ id: string; distance: number }>(
      `searching ${this.model}`,
      `SELECT id, embedding <=> $1::vector AS distance FROM ${this.#table} ORDER BY embedding <=> $1::vector LIMIT $2`,
      [toVectorBinary(vector), k],
    );
    return rows
      .filter((r) => r.distance <= maxDistance)
      .sort((a, b) => a.distance - b.distance || compareIds(a.id, b.id))
      // rounding can put identical or opposite vectors a hair outside 0..2
      .map((r) => ({ id: r.id, distance: Math.min(2, Math.max(0, r.distance)) }));
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
  }

  /**
   * (Re)builds the HNSW index after {@link dropAnnIndex} and a bulk load. `maintenanceWorkMem`
   * (e.g. '1GB') should hold the whole graph (about 2.7 KB per 512-d vector), or the build slows
   * down sharply once it spills.
   */
  async buildAnnIndex(options: { maintenanceWorkMem?: string } = {}): Promise<void> {
    if (this.dimensions > maxHnswDimensions) return;
    await this.#ctx.transaction(`building the HNSW index of ${this.model}`, async (tx) => {
      if (options.maintenanceWorkMem !== undefined) await tx.query("SELECT set_config('maintenance_work_mem', $1, true)", [options.maintenanceWorkMem]);
      await tx.execute(annIndexSql(this.#tableNumber));
    });
  }
}

function annIndexSql(tableNumber: number): string {
  const table = pg.escapeIdentifier(`vector_entries_${tableNumber}`);
  const index = pg.escapeIdentifier(`vector_entries_${tableNumber}_hnsw`);
  return `CREATE INDEX IF NOT EXISTS ${index} ON ${table} USING hnsw (embedding vector_cosine_ops) WITH (m = ${hnswM}, ef_construction = ${hnswEfConstruction})`;
}
