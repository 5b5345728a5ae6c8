/**
 * An int8 copy of the exact index's unit vectors, scanned by a WebAssembly SIMD kernel: the first
 * pass of {@link ExactVectorIndex}'s search. Row r holds round(v / s_r) with s_r = max|v_i| / 127
 * (so |v_i − s_r·row_i| ≤ s_r / 2), padded with zeros to a multiple of 16 values; the query is
 * rounded to int16 the same way (at most 16383, so no int32 sum can overflow). The kernel gives
 * s_r · Σ q_i·row_i per row: 0.5 bytes of memory traffic per value instead of 4, 8 products per
 * instruction. {@link Int8Rows.setQuery} returns a bound on how far that is from the exact dot product, which
 * is what lets the search stay exact (see exact-vector-index.ts).
 */

// The kernel, compiled with wabt 1.0.39 (`wat2wasm`) from:
//
// (module
//   (memory (export "memory") 1)
//   ;; scores(q, rows, scales, out, n, d): for each of n int8 rows of d values (d a multiple of 16)
//   ;; from `rows`, out[r] = f32(Σ q[j]·row[j]) · scales[r], q being d int16 values.
//   (func (export "scores") (param $q i32) (param $rows i32) (param $scales i32) (param $out i32) (param $n i32) (param $d i32)
//     (local $r i32) (local $j i32) (local $row i32) (local $a v128) (local $b v128)
//     (local.set $row (local.get $rows))
//     (block $done
//       (loop $nextRow
//         (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
//         (local.set $a (v128.const i32x4 0 0 0 0))
//         (local.set $b (v128.const i32x4 0 0 0 0))
//         (local.set $j (i32.const 0))
//         (loop $inner
//           (local.set $a (i32x4.add (local.get $a) (i32x4.dot_i16x8_s
//             (v128.load8x8_s (i32.add (local.get $row) (local.get $j)))
//             (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
//           (local.set $b (i32x4.add (local.get $b) (i32x4.dot_i16x8_s
//             (v128.load8x8_s offset=8 (i32.add (local.get $row) (local.get $j)))
//             (v128.load offset=16 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 1)))))))
//           (local.set $j (i32.add (local.get $j) (i32.const 16)))
//           (br_if $inner (i32.lt_u (local.get $j) (local.get $d))))
//         (local.set $a (i32x4.add (local.get $a) (local.get $b)))
//         (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
//           (f32.mul
//             (f32.convert_i32_s (i32.add
//               (i32.add (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
//               (i32.add (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a)))))
//             (f32.load (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))))))
//         (local.set $row (i32.add (local.get $row) (local.get $d)))
//         (local.set $r (i32.add (local.get $r) (i32.const 1)))
//         (br $nextRow)))))
const KERNEL =
  'AGFzbQEAAAABCgFgBn9/f39/fwADAgEABQMBAAEHEwIGbWVtb3J5AgAGc2NvcmVzAAAK3QEB2gECA38CeyABIQgCQANAIAYgBE8NAf0MAAAAAAAAAAAAAAAAAAAAACEJ/QwAAAAAAAAAAAAAAAAAAAAAIQpBACEHA0AgCSAIIAdq/QEDACAAIAdBAXRq/QAEAP26Af2uASEJIAogCCAHav0BAwggACAHQQF0av0ABBD9ugH9rgEhCiAHQRBqIQcgByAFSQ0ACyAJIAr9rgEhCSADIAZBAnRqIAn9GwAgCf0bAWogCf0bAiAJ/RsDamqyIAIgBkECdGoqAgCUOAIAIAggBWohCCAGQQFqIQYMAAsLCw==';

// The project compiles without the DOM library, where TypeScript declares WebAssembly: the little used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

let compiled: object | undefined;
const kernelModule = (): object => (compiled ??= new WebAssembly.Module(Buffer.from(KERNEL, 'base64')));

const PAGE = 65536;
const QUERY_MAX = 16383;
/** Rows scored per kernel call (the out buffer's size). */
export const SCAN_CHUNK_ROWS = 4096;

export class Int8Rows {
  readonly dimensions: number;
  /** Values per stored row: dimensions rounded up to a multiple of 16. */
  readonly stride: number;
  readonly #memory: WasmMemory;
  readonly #scores: (q: number, rows: number, scales: number, out: number, n: number, d: number) => void;
  readonly #queryOffset = 0;
  readonly #outOffset: number;
  readonly #scalesOffset: number;
  #rowsOffset: number;
  #capacity: number;
  /** The largest row scale ever stored (half of it bounds a row's rounding error per value). */
  #maxScale = 0;

  constructor(dimensions: number, capacity: number) {
    this.dimensions = dimensions;
    this.stride = Math.ceil(dimensions / 16) * 16;
    this.#outOffset = align(this.stride * 2);
    this.#scalesOffset = this.#outOffset + SCAN_CHUNK_ROWS * 4;
    this.#capacity = Math.max(capacity, 16);
    this.#rowsOffset = align(this.#scalesOffset + this.#capacity * 4);
    const instance = new WebAssembly.Instance(kernelModule(), {});
    this.#memory = instance.exports['memory'] as WasmMemory;
    this.#scores = instance.exports['scores'] as (q: number, rows: number, scales: number, out: number, n: number, d: number) => void;
    this.#grow(this.#rowsOffset + this.#capacity * this.stride);
  }

  /** Stores a unit vector's int8 copy in row `row` (growing the storage when needed). */
  set(row: number, vector: ArrayLike<number>): void {
    if (row >= this.#capacity) this.#reserve(Math.max(row + 1, this.#capacity * 2));
    let max = 0;
    for (let j = 0; j < this.dimensions; j++) max = Math.max(max, Math.abs(vector[j]!));
    const scale = max / 127;
    const inv = scale > 0 ? 1 / scale : 0;
    const out = new Int8Array(this.#memory.buffer, this.#rowsOffset + row * this.stride, this.stride);
    for (let j = 0; j < this.dimensions; j++) out[j] = Math.round(vector[j]! * inv);
    new Float32Array(this.#memory.buffer, this.#scalesOffset, this.#capacity)[row] = scale;
    if (scale > this.#maxScale) this.#maxScale = scale;
  }

  /** Copies row `from` onto row `to` (the swap-remove of the index). */
  move(from: number, to: number): void {
    const bytes = new Uint8Array(this.#memory.buffer);
    bytes.copyWithin(this.#rowsOffset + to * this.stride, this.#rowsOffset + from * this.stride, this.#rowsOffset + (from + 1) * this.stride);
    const scales = new Float32Array(this.#memory.buffer, this.#scalesOffset, this.#capacity);
    scales[to] = scales[from]!;
  }

  /**
   * Sets the query (a unit vector) for the following {@link score} calls; returns the bound on
   * |exact dot product − approximate score| for every stored row: the query's rounding (at most
   * half its step per value, times ‖v‖₁ ≤ √d for a unit v) plus the rows' (at most half the
   * largest row scale per value, times ‖q̂‖₁), plus float32 rounding of the score.
   */
  setQuery(query: ArrayLike<number>): { errorBound: number; queryScale: number } {
    let max = 0;
    for (let j = 0; j < this.dimensions; j++) max = Math.max(max, Math.abs(query[j]!));
    const step = max > 0 ? max / QUERY_MAX : 1;
    const q = new Int16Array(this.#memory.buffer, this.#queryOffset, this.stride);
    let l1 = 0;
    for (let j = 0; j < this.dimensions; j++) {
      q[j] = Math.round(query[j]! / step);
      l1 += Math.abs(q[j]!) * step;
    }
    q.fill(0, this.dimensions);
    const errorBound = (step / 2) * Math.sqrt(this.dimensions) + (this.#maxScale / 2) * l1 + 1e-5;
    return { errorBound, queryScale: step };
  }

  /**
   * Approximate dot products of the query with rows [start, start + count) (count ≤
   * SCAN_CHUNK_ROWS), in units of the query's step: multiply by `queryScale`. The returned view is
   * overwritten by the next call.
   */
  score(start: number, count: number): Float32Array {
    this.#scores(this.#queryOffset, this.#rowsOffset + start * this.stride, this.#scalesOffset + start * 4, this.#outOffset, count, this.stride);
    return new Float32Array(this.#memory.buffer, this.#outOffset, count);
  }

  #reserve(capacity: number): void {
    const rowsOffset = align(this.#scalesOffset + capacity * 4);
    this.#grow(rowsOffset + capacity * this.stride);
    // the rows move up to make room for the larger scale table (copyWithin handles the overlap)
    new Uint8Array(this.#memory.buffer).copyWithin(rowsOffset, this.#rowsOffset, this.#rowsOffset + this.#capacity * this.stride);
    this.#rowsOffset = rowsOffset;
    this.#capacity = capacity;
  }

  #grow(bytes: number): void {
    const have = this.#memory.buffer.byteLength;
    if (bytes > have) this.#memory.grow(Math.ceil((bytes - have) / PAGE));
  }
}

const align = (offset: number): number => Math.ceil(offset / 64) * 64;
