/** Deterministic random vectors for contract tests and the vector-index benchmark. */

/** A seeded uniform [0, 1) generator (mulberry32): the same seed gives the same data on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller). */
export function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! * scale;
  return vector;
}

/** A random direction: uniform on the unit sphere. */
export function randomUnitVector(random: () => number, dimensions: number): Float32Array {
  const v = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) v[i] = gaussian(random);
  return normalise(v);
}

/** `centre` plus isotropic Gaussian noise of `sigma` per component, scaled to unit length. */
export function noisyUnitVector(random: () => number, centre: Float32Array, sigma: number): Float32Array {
  const v = new Float32Array(centre.length);
  for (let i = 0; i < centre.length; i++) v[i] = centre[i]! + sigma * gaussian(random);
  return normalise(v);
}

/** Cosine distance 1 − cos(a, b), accumulated in float64 (the reference the indexes are held to). */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return 1 - dot / Math.sqrt(aa * bb);
}

/** The k nearest of `items` to `query` by brute force, nearest first (ties by id). */
export function bruteForceNearest(items: readonly { id: string; vector: Float32Array }[], query: Float32Array, k: number): { id: string; distance: number }[] {
  return items
    .map(({ id, vector }) => ({ id, distance: cosineDistance(query, vector) }))
    .sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, k);
}
