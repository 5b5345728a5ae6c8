import type { DistanceMetric } from '@facewatch/core';

/**
 * Face distances, as deepface defines them:
 * - cosine: 1 − cos(a, b), 0..2;
 * - euclidean: ‖a − b‖ between the raw (un-normalised) model outputs;
 * - euclidean_l2: ‖â − b̂‖ between the unit vectors, 0..2 (= sqrt(2 · cosine)).
 * Embeddings are stored as unit vectors plus their raw length, so all three can be computed.
 */
export interface EmbeddingVector {
  /** Unit-length embedding. */
  embedding: ArrayLike<number>;
  /** Length of the raw model output. */
  norm: number;
}

export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return 1 - dot / (Math.sqrt(na * nb) || 1);
}

export function distance(metric: DistanceMetric, a: EmbeddingVector, b: EmbeddingVector): number {
  switch (metric) {
    case 'cosine':
      return cosineDistance(a.embedding, b.embedding);
    case 'euclidean_l2':
      return Math.sqrt(Math.max(0, 2 * cosineDistance(a.embedding, b.embedding)));
    case 'euclidean': {
      let sum = 0;
      for (let i = 0; i < a.embedding.length; i++) {
        const d = a.embedding[i]! * a.norm - b.embedding[i]! * b.norm;
        sum += d * d;
      }
      return Math.sqrt(sum);
    }
  }
}

/**
 * Distance thresholds for the 1:1 questions (verify, and a request that gives no `threshold` but
 * asks to decide by distance): same person when distance ≤ threshold. Measured with
 * `npm run calibrate:face` (docs/face-thresholds.md): cosine 0.63 keeps all 22 labelled group
 * faces within reach of their own person (at most 0.591) and every other person outside (at least
 * 0.637); it is a similarity of 0.37, a false-match rate of about 4e-4 per comparison under the
 * calibrated impostor tail. euclidean_l2 is the same cut (sqrt(2 · 0.63)); raw euclidean separates
 * less well, 4.0 is its cut. Watch-list decisions use the calibrated rule instead (libs/recognition).
 */
export const DEFAULT_MAX_DISTANCE: Readonly<Record<DistanceMetric, number>> = {
  cosine: 0.63,
  euclidean_l2: 1.1225,
  euclidean: 4.0,
};

export function defaultMaxDistance(metric: DistanceMetric): number {
  return DEFAULT_MAX_DISTANCE[metric];
}
