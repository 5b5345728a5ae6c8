import { AppError, ErrorCode } from '@facewatch/core';
import type { VectorIndex, VectorMatch } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { Int8Rows, SCAN_CHUNK_ROWS } from './int8-rows.js';
import { TopK } from './top-k.js';
import { decodeFloat32, encodeFloat32, float32View } from './vector-codec.js';
import { checkDimensions, checkId, checkSearch, checkedSquaredNorm } from './vector-checks.js';

// The default vector index of the SQLite store, chosen over sqlite-vec 0.1.9 (vec0, cosine) by
// `npm run bench:vector` (both exact; the scan answered 1.2–1.6× sooner, inserted 1.4× faster and
// needs no native extension: sqlite-vec is pre-1.0, ships prebuilt binaries for five platforms
// only, has no upsert and caps k at 4096; libs/db/README.md has the figures).
//
// A search reads an int8 copy of every row first (int8-rows.ts: a WebAssembly SIMD kernel, 8
// products an instruction, a quarter of the float32 rows' memory traffic) and computes exact
// float64 distances only for the rows that can still be among the k nearest, in chunks of 4096 rows
// with the event loop served between them. At 100 000 × 512-d: 11.5–12 CPU ms a search instead of
// 91 (issue #12: 115–126 ms, holding HTTP meanwhile), the same answers.

const initialCapacity = 256;

/**
 * Exact cosine k-NN for one embedding model: every vector, scaled to unit length, lives in one
 * contiguous Float32Array (row r at r × dimensions) and, rounded to int8 with a scale per row, in
 * {@link Int8Rows}. A search scores every int8 row (within a known error bound of the exact dot
 * product), then computes distance = 1 − q·v in float64 for the rows that can beat the k-th best,
 * feeding a bounded heap: exact answers, ties by id, as a full float64 scan gives. The rows persist in
 * `vector_entries` (model, id, float32 blob as given) and are loaded back when the store opens the
 * index; upsert and remove write SQLite first, in one transaction, and only then the memory copy, so
 * a failed write changes nothing. Removal moves the last row into the freed one (swap-remove) and
 * fixes the id ↔ row maps.
 *
 * The index keeps its own rows rather than reading reference_faces: the VectorIndex contract takes
 * any id (the contract suite, pgvector), and the store can rebuild it alone. The cost is a second
 * copy of each embedding on disk and two writes (reference rows, then the index) that are not one
 * transaction. A crash between them can leave a face the index lacks or an index id whose face is
 * gone (`facesByIds` skips it when naming matches); the backend's reconcile at start compares
 * `ids()` with `allFaces(model)` and repairs both.
 *
 * Limits: memory is dimensions × 5 bytes per vector (2.5 KB at 512-d, 250 MB for 100 000); a search
 * costs O(n × dimensions) of the calling thread's time (~12 CPU ms at 100 000 × 512), in slices of
 * SCAN_CHUNK_ROWS rows between which the event loop runs; writes wait for searches in progress
 * (and searches arriving meanwhile wait for the write); and this process must be the only writer of
 * the index, since another process's writes are only seen after a reopen.
 */
export class ExactVectorIndex implements VectorIndex {
  readonly model: string;
  readonly dimensions: number;
  readonly #ctx: SqliteContext;
  #vectors: Float32Array;
  #ids: string[] = [];
  readonly #rows = new Map<string, number>();
  readonly #int8: Int8Rows;
  /** Searches in progress (each may yield between chunks), and writes waiting for them to end. */
  #scans = 0;
  readonly #writers: (() => void)[] = [];
  readonly #scanWaiters: (() => void)[] = [];
  #writing = false;

  private constructor(ctx: SqliteContext, model: string, dimensions: number, capacity: number) {
    this.#ctx = ctx;
    this.model = model;
    this.dimensions = dimensions;
    this.#vectors = new Float32Array(Math.max(capacity, initialCapacity) * dimensions);
    this.#int8 = new Int8Rows(dimensions, Math.max(capacity, initialCapacity));
  }

  /**
   * Registers the model's index (its dimension is fixed from then on: another one is INVALID_ARGUMENT)
   * and loads its stored vectors.
   */
  static open(ctx: SqliteContext, model: string, dimensions: number): ExactVectorIndex {
    checkDimensions(dimensions, model);
    return ctx.run(`opening the ${model} vector index`, () => {
      ctx.prepare('INSERT INTO vector_indexes (model, dimensions, created_at) VALUES (?, ?, ?) ON CONFLICT (model) DO NOTHING').run(model, dimensions, new Date().toISOString());
      const stored = ctx.prepare('SELECT dimensions FROM vector_indexes WHERE model = ?').pluck().get(model) as number;
      if (stored !== dimensions) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `the ${model} vector index has ${stored} dimensions, not ${dimensions}`, {
          details: { model, expected: stored, actual: dimensions },
        });
      }
      const count = ctx.prepare('SELECT count(*) FROM vector_entries WHERE model = ?').pluck().get(model) as number;
      const index = new ExactVectorIndex(ctx, model, dimensions, count);
      const rows = ctx.prepare('SELECT id, vector FROM vector_entries WHERE model = ? ORDER BY rowid').raw().iterate(model) as IterableIterator<[string, Buffer]>;
      for (const [id, blob] of rows) {
        if (blob.byteLength !== dimensions * 4) {
          throw new AppError(ErrorCode.INTERNAL, `stored vector ${id} of ${model} has ${blob.byteLength} bytes, not ${dimensions * 4}`);
        }
        const vector = float32View(blob) ?? decodeFloat32(blob, `stored vector ${id} of ${model}`);
        index.#place(id, vector, Math.sqrt(checkedSquaredNorm(vector, dimensions, model, `stored vector ${id}`)));
      }
      return index;
    });
  }

  async upsert(items: readonly { id: string; vector: Float32Array }[]): Promise<void> {
    // validate the whole batch before writing anything
    const norms = items.map(({ id, vector }) => {
      checkId(id, this.model);
      return Math.sqrt(checkedSquaredNorm(vector, this.dimensions, this.model, `vector ${id}`));
    });
    if (items.length === 0) return;
    await this.#exclusive(() => {
      this.#ctx.run(`storing ${items.length} vectors of ${this.model}`, () => {
        const db = this.#ctx.db;
        const put = this.#ctx.prepare('INSERT INTO vector_entries (model, id, vector) VALUES (?, ?, ?) ON CONFLICT (model, id) DO UPDATE SET vector = excluded.vector');
        db.transaction(() => {
          for (const { id, vector } of items) put.run(this.model, id, encodeFloat32(vector));
        })();
      });
      items.forEach(({ id, vector }, i) => this.#place(id, vector, norms[i]!));
    });
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#exclusive(() => this.#remove(ids));
  }

  #remove(ids: readonly string[]): void {
    this.#ctx.run(`removing ${ids.length} vectors of ${this.model}`, () => {
      const db = this.#ctx.db;
      const del = this.#ctx.prepare('DELETE FROM vector_entries WHERE model = ? AND id = ?');
      db.transaction(() => {
        for (const id of ids) del.run(this.model, id);
      })();
    });
    const d = this.dimensions;
    for (const id of ids) {
      const row = this.#rows.get(id);
      if (row === undefined) continue;
      const last = this.#ids.length - 1;
      if (row !== last) {
        this.#vectors.copyWithin(row * d, last * d, last * d + d);
        this.#int8.move(last, row);
        const moved = this.#ids[last]!;
        this.#ids[row] = moved;
        this.#rows.set(moved, row);
      }
      this.#ids.pop();
      this.#rows.delete(id);
    }
  }

  async search(vector: Float32Array, k: number, options: { maxDistance?: number } = {}): Promise<VectorMatch[]> {
    const { maxDistance = Infinity } = options;
    checkSearch(k, options.maxDistance, this.model);
    const squaredNorm = checkedSquaredNorm(vector, this.dimensions, this.model, 'the query vector');
    this.#ctx.run(`searching ${this.model}`, () => undefined); // a closed store refuses, as before
    while (this.#writing || this.#writers.length > 0) await new Promise<void>((resolve) => this.#scanWaiters.push(resolve));
    this.#scans++;
    try {
      return await this.#scan(vector, 1 / Math.sqrt(squaredNorm), k, maxDistance);
    } finally {
      if (--this.#scans === 0 && this.#writers.length > 0) {
        this.#writing = true; // handed over now, so no search starts before the writer runs
        this.#writers.shift()!();
      }
    }
  }

  async count(): Promise<number> {
    return this.#ctx.run(`counting ${this.model}`, () => this.#ids.length);
  }

  async ids(): Promise<string[]> {
    return this.#ctx.run(`listing ${this.model}`, () => [...this.#ids]);
  }

  /**
   * The exact k nearest in two passes. The int8 rows give every row an approximate dot product
   * within ±bound of the exact one (Int8Rows.setQuery); a row whose approximation is more than
   * 2·bound below the k-th best approximation cannot be among the k nearest (k rows are known to
   * be closer), so only the rest — typically k plus a handful — are scored exactly (float64 over the
   * float32 rows, as before) into the heap. The first pass runs in chunks of SCAN_CHUNK_ROWS rows
   * with the event loop served between chunks.
   */
  async #scan(query: Float32Array, scale: number, k: number, maxDistance: number): Promise<VectorMatch[]> {
    const d = this.dimensions;
    const q = new Float64Array(d);
    for (let j = 0; j < d; j++) q[j] = query[j]! * scale;
    const ids = this.#ids;
    const n = ids.length;
    const top = new TopK(Math.min(k, n), (row) => ids[row]!);
    if (n === 0 || k === 0) return [];
    const { errorBound, queryScale } = this.#int8.setQuery(q);
    const approx = new Float32Array(n);
    for (let start = 0; start < n; start += SCAN_CHUNK_ROWS) {
      if (start > 0) {
        await yieldToEventLoop();
        this.#int8.setQuery(q); // another search of this index may have set its own query meanwhile
      }
      approx.set(this.#int8.score(start, Math.min(SCAN_CHUNK_ROWS, n - start)), start);
    }
    // the k-th largest approximation, then every row that may beat it
    const kth = kthLargest(approx, Math.min(k, n)) * queryScale;
    const floor = Math.max(kth - 2 * errorBound, 1 - maxDistance - errorBound) / queryScale;
    const vectors = this.#vectors;
    for (let row = 0; row < n; row++) {
      if (approx[row]! < floor) continue;
      const base = row * d;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      let j = 0;
      for (; j + 4 <= d; j += 4) {
        s0 += q[j]! * vectors[base + j]!;
        s1 += q[j + 1]! * vectors[base + j + 1]!;
        s2 += q[j + 2]! * vectors[base + j + 2]!;
        s3 += q[j + 3]! * vectors[base + j + 3]!;
      }
      for (; j < d; j++) s0 += q[j]! * vectors[base + j]!;
      const distance = 1 - (s0 + s1 + s2 + s3);
      if (distance <= maxDistance) top.offer(distance, row);
    }
    // rounding can put identical or opposite vectors a hair outside 0..2
    return top.sorted().map(({ slot, distance }) => ({ id: ids[slot]!, distance: Math.min(2, Math.max(0, distance)) }));
  }

  /** Runs a write once no search is scanning (searches arriving meanwhile wait for it). */
  async #exclusive<T>(write: () => T): Promise<T> {
    // a waiting writer is woken with #writing already set for it
    if (this.#scans > 0 || this.#writing) await new Promise<void>((resolve) => this.#writers.push(resolve));
    else this.#writing = true;
    try {
      return write();
    } finally {
      const next = this.#writers.shift();
      if (next) {
        next();
      } else {
        this.#writing = false;
        for (const wake of this.#scanWaiters.splice(0)) wake();
      }
    }
  }

  /** Writes the unit-length copy of a vector into its row (appending, and growing, for a new id). */
  #place(id: string, vector: Float32Array, norm: number): void {
    const d = this.dimensions;
    let row = this.#rows.get(id);
    if (row === undefined) {
      row = this.#ids.length;
      if ((row + 1) * d > this.#vectors.length) {
        const grown = new Float32Array(Math.max(this.#vectors.length * 2, (row + 1) * d));
        grown.set(this.#vectors.subarray(0, row * d));
        this.#vectors = grown;
      }
      this.#ids.push(id);
      this.#rows.set(id, row);
    }
    const base = row * d;
    for (let j = 0; j < d; j++) this.#vectors[base + j] = vector[j]! / norm;
    this.#int8.set(row, this.#vectors.subarray(base, base + d));
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The k-th largest value of `values` (1 ≤ k ≤ length), with a min-heap of the k largest. */
function kthLargest(values: Float32Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (size < k) {
      let c = size++;
      heap[c] = v;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heap[p]! <= heap[c]!) break;
        [heap[p], heap[c]] = [heap[c]!, heap[p]!];
        c = p;
      }
    } else if (v > heap[0]!) {
      heap[0] = v;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1,
          r = l + 1;
        let m = p;
        if (l < k && heap[l]! < heap[m]!) m = l;
        if (r < k && heap[r]! < heap[m]!) m = r;
        if (m === p) break;
        [heap[p], heap[m]] = [heap[m]!, heap[p]!];
        p = m;
      }
    }
  }
  return heap[0]!;
}
