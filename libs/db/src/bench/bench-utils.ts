/** Shared by the vector benchmarks. */

/** The p-th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * The k nearest rows of `vectors` (row r at r × dimensions, unit length) to a unit query by a
 * float64 dot-product scan, nearest first: the ground truth the indexes are held to.
 */
export function exactTopK(vectors: Float32Array, dimensions: number, query: Float32Array, k: number): { row: number; distance: number }[] {
  return exactTopKMany(vectors, dimensions, [query], k)[0]!;
}

/** {@link exactTopK} for many queries in one pass over the vectors (blocks of rows stay in cache while every query visits them). */
export function exactTopKMany(vectors: Float32Array, dimensions: number, queries: readonly Float32Array[], k: number): { row: number; distance: number }[][] {
  if (dimensions % 4 !== 0) throw new Error(`exactTopKMany: ${dimensions} dimensions is not a multiple of 4`);
  const rows = vectors.length / dimensions;
  const best = queries.map(() => ({ dots: [] as number[], rows: [] as number[] }));
  const q64 = queries.map((q) => Float64Array.from(q));
  const block = 512;
  for (let start = 0; start < rows; start += block) {
    const end = Math.min(rows, start + block);
    for (let qi = 0; qi < queries.length; qi++) {
      const q = q64[qi]!;
      const top = best[qi]!;
      let floor = top.dots.length < k ? -Infinity : top.dots[top.dots.length - 1]!;
      for (let r = start, base = start * dimensions; r < end; r++, base += dimensions) {
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let j = 0; j < dimensions; j += 4) {
          s0 += q[j]! * vectors[base + j]!;
          s1 += q[j + 1]! * vectors[base + j + 1]!;
          s2 += q[j + 2]! * vectors[base + j + 2]!;
          s3 += q[j + 3]! * vectors[base + j + 3]!;
        }
        const dot = s0 + s1 + s2 + s3;
        if (dot <= floor) continue;
        // insertion into the descending list of the k best
        let i = top.dots.length;
        top.dots.push(dot);
        top.rows.push(r);
        while (i > 0 && top.dots[i - 1]! < dot) {
          top.dots[i] = top.dots[i - 1]!;
          top.rows[i] = top.rows[i - 1]!;
          i--;
        }
        top.dots[i] = dot;
        top.rows[i] = r;
        if (top.dots.length > k) {
          top.dots.pop();
          top.rows.pop();
        }
        if (top.dots.length === k) floor = top.dots[k - 1]!;
      }
    }
  }
  return best.map((top) => top.rows.map((row, i) => ({ row, distance: 1 - top.dots[i]! })));
}
