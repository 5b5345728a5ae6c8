import type { Database } from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { AppError, ErrorCode } from '@facewatch/core';
import type { VectorIndex, VectorMatch } from '../types.js';
import { toStoreError } from '../sqlite/sqlite-errors.js';
import { encodeFloat32 } from '../sqlite/vector-codec.js';
import { checkDimensions, checkId, checkSearch, checkedSquaredNorm } from '../sqlite/vector-checks.js';

/**
 * The candidate the exact scan was measured against (bench:vector only, not used by the product):
 * sqlite-vec 0.1.9, one `vec0` virtual table per model (`id text primary key`, `float[d]`,
 * `distance_metric=cosine`), queried with `embedding MATCH ? AND k = ?`. vec0 0.1.9 has no upsert
 * (INSERT OR REPLACE fails on its primary key), so an upsert is delete + insert.
 */
export class SqliteVecIndex implements VectorIndex {
  readonly model: string;
  readonly dimensions: number;
  readonly #db: Database;
  readonly #table: string;

  private constructor(db: Database, model: string, dimensions: number, table: string) {
    this.#db = db;
    this.model = model;
    this.dimensions = dimensions;
    this.#table = table;
  }

  /** Loads the extension into `db` (once per connection is enough; loading again is harmless). */
  static loadExtension(db: Database): string {
    sqliteVec.load(db);
    return db.prepare('SELECT vec_version()').pluck().get() as string;
  }

  static open(db: Database, model: string, dimensions: number): SqliteVecIndex {
    checkDimensions(dimensions, model);
    try {
      db.exec('CREATE TABLE IF NOT EXISTS vec_models (n INTEGER PRIMARY KEY, model TEXT NOT NULL UNIQUE, dimensions INTEGER NOT NULL)');
      db.prepare('INSERT INTO vec_models (model, dimensions) VALUES (?, ?) ON CONFLICT (model) DO NOTHING').run(model, dimensions);
      const row = db.prepare('SELECT n, dimensions FROM vec_models WHERE model = ?').get(model) as { n: number; dimensions: number };
      if (row.dimensions !== dimensions) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${model} vector index has ${row.dimensions} dimensions, not ${dimensions}`);
      }
      const table = `vec_${row.n}`;
      db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${table} USING vec0(id text primary key, embedding float[${dimensions}] distance_metric=cosine)`);
      return new SqliteVecIndex(db, model, dimensions, table);
    } catch (err) {
      throw toStoreError(err, `opening the sqlite-vec index of ${model}`);
    }
  }

  async upsert(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    for (const { id, vector } of items) {
      checkId(id, this.model);
      checkedSquaredNorm(vector, this.dimensions, this.model, `vector ${id}`);
    }
    const del = this.#db.prepare(`DELETE FROM ${this.#table} WHERE id = ?`);
    const insert = this.#db.prepare(`INSERT INTO ${this.#table} (id, embedding) VALUES (?, ?)`);
    try {
      this.#db.transaction(() => {
        for (const { id, vector } of items) {
          del.run(id);
          insert.run(id, encodeFloat32(vector));
        }
      })();
    } catch (err) {
      throw toStoreError(err, `storing vectors of ${this.model}`);
    }
  }

  async remove(ids: readonly string[]): Promise<void> {
    const del = this.#db.prepare(`DELETE FROM ${this.#table} WHERE id = ?`);
    try {
      this.#db.transaction(() => {
        for (const id of ids) del.run(id);
      })();
    } catch (err) {
      throw toStoreError(err, `removing vectors of ${this.model}`);
    }
  }

  async search(vector: Float32Array, k: number, options: { maxDistance?: number } = {}): Promise<VectorMatch[]> {
    checkSearch(k, options.maxDistance, this.model);
    checkedSquaredNorm(vector, this.dimensions, this.model, 'the query vector');
    try {
      // k must be bound as an integer (a JS number binds as REAL), and vec0 caps it at 4096
      const rows = this.#db
        .prepare(`SELECT id, distance FROM ${this.#table} WHERE embedding MATCH ? AND k = ? ORDER BY distance`)
        .all(encodeFloat32(vector), BigInt(Math.min(k, 4096))) as VectorMatch[];
      const { maxDistance } = options;
      return maxDistance === undefined ? rows : rows.filter((r) => r.distance <= maxDistance);
    } catch (err) {
      throw toStoreError(err, `searching ${this.model}`);
    }
  }

  async ids(): Promise<string[]> {
    try {
      return this.#db.prepare(`SELECT id FROM ${this.#table}`).pluck().all() as string[];
    } catch (err) {
      throw toStoreError(err, `listing ${this.model}`);
    }
  }

  async count(): Promise<number> {
    try {
      return this.#db.prepare(`SELECT count(*) FROM ${this.#table}`).pluck().get() as number;
    } catch (err) {
      throw toStoreError(err, `counting ${this.model}`);
    }
  }
}
