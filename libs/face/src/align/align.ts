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
  let fx = 0,
    fy = 0,
    tx = 0,
    ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]![0];
    fy += from[i]![1];
    tx += to[i]![0];
    ty += to[i]![1];
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  let dot = 0,
    cross = 0,
    norm = 0;
  for (let i = 0; i < n; i++) {
    const x = from[i]![0] - fx,
      y = from[i]![1] - fy;
    const u = to[i]![0] - tx,
      v = to[i]![1] - ty;
    dot += x * u + y * v;
    cross += x * v - y * u;
    norm += x * x + y * y;
  }
  const a = norm === 0 ? 1 : dot / norm;
  const b = norm === 0 ? 0 : cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/** Source pixels per pixel of the aligned crop, for a face with these landmarks (how much the warp shrinks it). */
export function sourcePerOutput(landmarks: FiveLandmarks): number {
  const t = estimateSimilarity(landmarks, ARCFACE_TEMPLATE);
  return 1 / Math.sqrt(t.a * t.a + t.b * t.b);
}

/**
 * The box of source pixels {@link alignFace} reads for a face with these landmarks (the aligned
 * square mapped back onto the source), widened by `margin` pixels.
 */
export function alignedFootprint(landmarks: FiveLandmarks, margin: number): { x1: number; y1: number; x2: number; y2: number } {
  const t = estimateSimilarity(landmarks, ARCFACE_TEMPLATE);
  const det = t.a * t.a + t.b * t.b;
  const ia = t.a / det,
    ib = t.b / det;
  const xs: number[] = [],
    ys: number[] = [];
  for (const u of [-0.5, ALIGNED_SIDE - 0.5]) {
    for (const v of [-0.5, ALIGNED_SIDE - 0.5]) {
      xs.push(ia * (u - t.tx) + ib * (v - t.ty));
      ys.push(-ib * (u - t.tx) + ia * (v - t.ty));
    }
  }
  return {
    x1: Math.floor(Math.min(...xs)) - margin,
    y1: Math.floor(Math.min(...ys)) - margin,
    x2: Math.ceil(Math.max(...xs)) + margin + 1,
    y2: Math.ceil(Math.max(...ys)) + margin + 1,
  };
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
  const ia = t.a / det,
    ib = t.b / det;
  const sourcePerOutput = 1 / Math.sqrt(det);
  const k = Math.min(4, Math.max(2, Math.ceil(sourcePerOutput)));
  const out = new Uint8Array(ALIGNED_SIDE * ALIGNED_SIDE * 3);
  const { data, width, height } = image;
  const samples = k * k;
  // The products of the inverse transform split into a column part and a row part, computed once:
  // x = ia·uu + ib·vv, y = −ib·uu + ia·vv with the same roundings as computing them per sample.
  const n = ALIGNED_SIDE * k;
  const xu = new Float64Array(n),
    yu = new Float64Array(n),
    xv = new Float64Array(n),
    yv = new Float64Array(n);
  for (let i = 0; i < ALIGNED_SIDE; i++) {
    for (let s = 0; s < k; s++) {
      const uu = i - 0.5 + (s + 0.5) / k - t.tx;
      const vv = i - 0.5 + (s + 0.5) / k - t.ty;
      xu[i * k + s] = ia * uu;
      yu[i * k + s] = -ib * uu;
      xv[i * k + s] = ib * vv;
      yv[i * k + s] = ia * vv;
    }
  }
  const xLast = width - 1,
    yLast = height - 1,
    stride = width * 3;
  for (let v = 0, o = 0; v < ALIGNED_SIDE; v++) {
    for (let u = 0; u < ALIGNED_SIDE; u++, o += 3) {
      let r = 0,
        g = 0,
        bl = 0;
      for (let sy = 0; sy < k; sy++) {
        const rx = xv[v * k + sy]!,
          ry = yv[v * k + sy]!;
        for (let sx = 0; sx < k; sx++) {
          const x = xu[u * k + sx]! + rx;
          const y = yu[u * k + sx]! + ry;
          const x0 = Math.floor(x),
            y0 = Math.floor(y);
          const fx = x - x0,
            fy = y - y0;
          if (x0 >= 0 && x0 < xLast && y0 >= 0 && y0 < yLast) {
            // all four neighbours inside the image (almost every sample)
            const i00 = (y0 * width + x0) * 3,
              i10 = i00 + 3,
              i01 = i00 + stride,
              i11 = i01 + 3;
            const w00 = (1 - fx) * (1 - fy),
              w10 = fx * (1 - fy),
              w01 = (1 - fx) * fy,
              w11 = fx * fy;
            r += data[i00]! * w00 + data[i10]! * w10 + data[i01]! * w01 + data[i11]! * w11;
            g += data[i00 + 1]! * w00 + data[i10 + 1]! * w10 + data[i01 + 1]! * w01 + data[i11 + 1]! * w11;
            bl += data[i00 + 2]! * w00 + data[i10 + 2]! * w10 + data[i01 + 2]! * w01 + data[i11 + 2]! * w11;
            continue;
          }
          // a neighbour outside the image counts as black (its weight is dropped; its index is clamped only to stay valid)
          const inA = x0 >= 0 && x0 < width,
            inB = x0 + 1 >= 0 && x0 + 1 < width;
          const inTop = y0 >= 0 && y0 < height,
            inBottom = y0 + 1 >= 0 && y0 + 1 < height;
          const xa = inA ? x0 : 0,
            xb = inB ? x0 + 1 : 0,
            ya = inTop ? y0 : 0,
            yb = inBottom ? y0 + 1 : 0;
          const i00 = (ya * width + xa) * 3,
            i10 = (ya * width + xb) * 3;
          const i01 = (yb * width + xa) * 3,
            i11 = (yb * width + xb) * 3;
          const w00 = inA && inTop ? (1 - fx) * (1 - fy) : 0,
            w10 = inB && inTop ? fx * (1 - fy) : 0;
          const w01 = inA && inBottom ? (1 - fx) * fy : 0,
            w11 = inB && inBottom ? fx * fy : 0;
          r += data[i00]! * w00 + data[i10]! * w10 + data[i01]! * w01 + data[i11]! * w11;
          g += data[i00 + 1]! * w00 + data[i10 + 1]! * w10 + data[i01 + 1]! * w01 + data[i11 + 1]! * w11;
          bl += data[i00 + 2]! * w00 + data[i10 + 2]! * w10 + data[i01 + 2]! * w01 + data[i11 + 2]! * w11;
        }
      }
      out[o] = r / samples + 0.5;
      out[o + 1] = g / samples + 0.5;
      out[o + 2] = bl / samples + 0.5;
    }
  }
  return out;
}
