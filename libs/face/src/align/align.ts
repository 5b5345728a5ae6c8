import type { RgbImage } from '../image/decode.js';
import type { FiveLandmarks } from '../detect/types.js';

export const ALIGNED_SIDE = 112;

/** The ArcFace 112x112 template, in the order of {@link FiveLandmarks}. */
export const ARCFACE_TEMPLATE: FiveLandmarks = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** A similarity transform u = a·x − b·y + tx, v = b·x + a·y + ty (rotation, uniform scale, shift). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * Least-squares similarity (no reflection) mapping `from` onto `to` (Umeyama's method, which in
 * 2-D has this closed form).
 */
export function estimateSimilarity(from: readonly (readonly [number, number])[], to: readonly (readonly [number, number])[]): Similarity {
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]![0]; fy += from[i]![1]; tx += to[i]![0]; ty += to[i]![1];
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const x = from[i]![0] - fx, y = from[i]![1] - fy;
    const u = to[i]![0] - tx, v = to[i]![1] - ty;
    dot += x * u + y * v;
    cross += x * v - y * u;
    norm += x * x + y * y;
  }
  const a = norm === 0 ? 1 : dot / norm;
  const b = norm === 0 ? 0 : cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/**
 * Warps the face onto the 112x112 template: each output pixel is sampled through the inverse
 * transform with bilinear interpolation and k×k supersampling, k growing with how many source
 * pixels one output pixel covers (anti-aliasing for large faces). Returns packed RGB.
 *
 * Outside the image the output is black, as InsightFace's own alignment (`norm_crop`:
 * cv2.warpAffine with a constant 0 border) prepared the faces ArcFace-style embedders learnt
 * from. Replicating the border pixels instead smeared streaks over tightly cropped faces
 * (150-px ID-style crops) and cost separation: d′ of the fixture crop pairs 4.07 → 4.89 with the
 * black border (docs/face-thresholds.md).
 */
export function alignFace(image: RgbImage, landmarks: FiveLandmarks): Uint8Array {
  const t = estimateSimilarity(landmarks, ARCFACE_TEMPLATE);
  const det = t.a * t.a + t.b * t.b;
  // inverse: x = ( a(u−tx) + b(v−ty)) / det ; y = (−b(u−tx) + a(v−ty)) / det
  const ia = t.a / det, ib = t.b / det;
  const sourcePerOutput = 1 / Math.sqrt(det);
  const k = Math.min(4, Math.max(2, Math.ceil(sourcePerOutput)));
  const out = new Uint8Array(ALIGNED_SIDE * ALIGNED_SIDE * 3);
  const { data, width, height } = image;
  const samples = k * k;
  for (let v = 0; v < ALIGNED_SIDE; v++) {
    for (let u = 0; u < ALIGNED_SIDE; u++) {
      let r = 0, g = 0, bl = 0;
      for (let sy = 0; sy < k; sy++) {
        const vv = v - 0.5 + (sy + 0.5) / k - t.ty;
        for (let sx = 0; sx < k; sx++) {
          const uu = u - 0.5 + (sx + 0.5) / k - t.tx;
          const x = ia * uu + ib * vv;
          const y = -ib * uu + ia * vv;
          const x0 = Math.floor(x), y0 = Math.floor(y);
          const fx = x - x0, fy = y - y0;
          // a neighbour outside the image counts as black (its weight is dropped; its index is clamped only to stay valid)
          const inA = x0 >= 0 && x0 < width, inB = x0 + 1 >= 0 && x0 + 1 < width;
          const inTop = y0 >= 0 && y0 < height, inBottom = y0 + 1 >= 0 && y0 + 1 < height;
          const xa = inA ? x0 : 0, xb = inB ? x0 + 1 : 0, ya = inTop ? y0 : 0, yb = inBottom ? y0 + 1 : 0;
          const i00 = (ya * width + xa) * 3, i10 = (ya * width + xb) * 3;
          const i01 = (yb * width + xa) * 3, i11 = (yb * width + xb) * 3;
          const w00 = inA && inTop ? (1 - fx) * (1 - fy) : 0, w10 = inB && inTop ? fx * (1 - fy) : 0;
          const w01 = inA && inBottom ? (1 - fx) * fy : 0, w11 = inB && inBottom ? fx * fy : 0;
          r += data[i00]! * w00 + data[i10]! * w10 + data[i01]! * w01 + data[i11]! * w11;
          g += data[i00 + 1]! * w00 + data[i10 + 1]! * w10 + data[i01 + 1]! * w01 + data[i11 + 1]! * w11;
          bl += data[i00 + 2]! * w00 + data[i10 + 2]! * w10 + data[i01 + 2]! * w01 + data[i11 + 2]! * w11;
        }
      }
      const o = (v * ALIGNED_SIDE + u) * 3;
      out[o] = r / samples + 0.5;
      out[o + 1] = g / samples + 0.5;
      out[o + 2] = bl / samples + 0.5;
    }
  }
  return out;
}
