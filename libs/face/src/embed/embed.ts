import { ALIGNED_SIDE } from '../align/align.js';

/**
 * fr_feature input from an aligned 112x112 RGB face: its luminance (Rec. 601 weights) in all
 * three channels, (x − 127) / 128, NCHW.
 *
 * Why grey: a watch-list compares photos from many sources — grey ID crops, colour phone photos,
 * night-mode (infrared) cameras — and the embedding should not carry their colour casts. Measured
 * on both fixture sets (docs/face-thresholds.md): grey inputs raise the genuine/impostor d′ on
 * colour photos (4.45 → 4.49) as on grey crops (4.89 → 5.05), so colour is worth less to this
 * model than the robustness. Every reference and probe goes through the same conversion.
 */
export function embedderTensorData(aligned: Uint8Array): Float32Array {
  const plane = ALIGNED_SIDE * ALIGNED_SIDE;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const y = (0.299 * aligned[i * 3]! + 0.587 * aligned[i * 3 + 1]! + 0.114 * aligned[i * 3 + 2]! - 127) / 128;
    data[i] = y;
    data[plane + i] = y;
    data[2 * plane + i] = y;
  }
  return data;
}

/** L2-normalises a raw embedding; returns the unit vector and the raw length. */
export function l2Normalise(raw: ArrayLike<number>): { embedding: Float32Array; norm: number } {
  let sum = 0;
  for (let i = 0; i < raw.length; i++) sum += raw[i]! * raw[i]!;
  const norm = Math.sqrt(sum);
  const embedding = new Float32Array(raw.length);
  const inv = norm > 0 ? 1 / norm : 0;
  for (let i = 0; i < raw.length; i++) embedding[i] = raw[i]! * inv;
  return { embedding, norm };
}

/**
 * The key reference embeddings are stored under (`reference_faces.model`, the vector index): the
 * embedder and the revision of what feeds it. Embeddings of different revisions are not comparable,
 * so references stored under another key are embedded again from their files at start.
 * Revision 2: grey input and a black alignment border (revision 1, stored as plain `fr_feature`:
 * colour input, replicated border).
 */
export const embeddingKey = (embedder: string): string => `${embedder}@2`;
