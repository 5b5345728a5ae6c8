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
  let dot = 0, na = 0, nb = 0;
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
 * Default decision thresholds (same person when distance ≤ threshold), calibrated with
 * `npm run calibrate:face` on the fixtures (YuNet-s + fr_feature); docs/face-thresholds.md has the
 * measurements. cosine 0.63 sits in the gap between the largest genuine (0.628) and the smallest
 * impostor (0.637) crop-pair distance, and is cosine similarity 0.37, the low end of what
 * photos needed in the reference measurements. euclidean_l2 is the same cut (sqrt(2 · 0.63)).
 * euclidean (raw vectors) separates less well (AUC 0.9990 on crops); 4.0 is its best cut there.
 */
export const DEFAULT_MAX_DISTANCE: Readonly<Record<DistanceMetric, number>> = {
  cosine: 0.63,
  euclidean_l2: 1.1225,
  euclidean: 4.0,
};

export function defaultMaxDistance(metric: DistanceMetric): number {
  return DEFAULT_MAX_DISTANCE[metric];
}
