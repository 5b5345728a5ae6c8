import { ALIGNED_SIDE } from '../align/align.js';

/** fr_feature input from an aligned 112x112 RGB face: RGB, (x − 127) / 128, NCHW. */
export function embedderTensorData(aligned: Uint8Array): Float32Array {
  const plane = ALIGNED_SIDE * ALIGNED_SIDE;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = (aligned[i * 3]! - 127) / 128;
    data[plane + i] = (aligned[i * 3 + 1]! - 127) / 128;
    data[2 * plane + i] = (aligned[i * 3 + 2]! - 127) / 128;
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
