import type { RgbImage } from '../image/decode.js';
import { clipBox, nms, type Box, type DetectOptions, type FiveLandmarks, type Point } from './types.js';

export const ULTRAFACE_WIDTH = 320;
export const ULTRAFACE_HEIGHT = 240;
export const LANDMARK_SIDE = 64;

/** UltraFace input from an image already resized to 320x240: RGB, (x − 127) / 128, NCHW. */
export function ultrafaceTensorData(resized: RgbImage): Float32Array {
  const plane = resized.width * resized.height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    data[i] = (resized.data[i * 3]! - 127) / 128;
    data[plane + i] = (resized.data[i * 3 + 1]! - 127) / 128;
    data[2 * plane + i] = (resized.data[i * 3 + 2]! - 127) / 128;
  }
  return data;
}

/**
 * UltraFace outputs: `scores` [1,N,2] (already softmax) and `boxes` [1,N,4] (already decoded,
 * corner form, normalised 0..1). Returns boxes in the pixels of an image of `width`x`height`.
 */
export function decodeUltraface(scores: ArrayLike<number>, boxes: ArrayLike<number>, width: number, height: number, options: DetectOptions): { box: Box; score: number }[] {
  const found: { box: Box; score: number }[] = [];
  const n = scores.length / 2;
  for (let i = 0; i < n; i++) {
    const score = scores[i * 2 + 1]!;
    if (!(score >= options.minScore)) continue; // also drops NaN
    const x1 = boxes[i * 4]! * width;
    const y1 = boxes[i * 4 + 1]! * height;
    const x2 = boxes[i * 4 + 2]! * width;
    const y2 = boxes[i * 4 + 3]! * height;
    const box = clipBox({ x: x1, y: y1, w: x2 - x1, h: y2 - y1 }, width, height);
    if (box.w > 1 && box.h > 1) found.push({ box, score });
  }
  return nms(found, options.nmsIou);
}

/** The square crop the landmark model sees: side = box height, centred on the box. */
export function landmarkCrop(box: Box): { x: number; y: number; side: number } {
  const side = box.h;
  return { x: box.x + box.w / 2 - side / 2, y: box.y + box.h / 2 - side / 2, side };
}

/** Grey 64x64 crop (zero outside the image), values / 256, for the 68-point landmark model. */
export function landmarkTensorData(image: RgbImage, box: Box): Float32Array {
  const crop = landmarkCrop(box);
  const out = new Float32Array(LANDMARK_SIDE * LANDMARK_SIDE);
  const step = crop.side / LANDMARK_SIDE;
  for (let v = 0; v < LANDMARK_SIDE; v++) {
    for (let u = 0; u < LANDMARK_SIDE; u++) {
      const sx = crop.x + (u + 0.5) * step - 0.5;
      const sy = crop.y + (v + 0.5) * step - 0.5;
      out[v * LANDMARK_SIDE + u] = greyAt(image, sx, sy) / 256;
    }
  }
  return out;
}

function greyAt(image: RgbImage, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  let acc = 0;
  for (const [dx, dy, w] of [
    [0, 0, (1 - fx) * (1 - fy)],
    [1, 0, fx * (1 - fy)],
    [0, 1, (1 - fx) * fy],
    [1, 1, fx * fy],
  ] as const) {
    const px = x0 + dx;
    const py = y0 + dy;
    if (px < 0 || py < 0 || px >= image.width || py >= image.height || w === 0) continue;
    const i = (py * image.width + px) * 3;
    acc += w * (0.299 * image.data[i]! + 0.587 * image.data[i + 1]! + 0.114 * image.data[i + 2]!);
  }
  return acc;
}

/** The 5 template points from 68 landmarks (output in 0..1 of the crop), in image pixels. */
export function fiveFromSixtyEight(output: ArrayLike<number>, box: Box): FiveLandmarks {
  const crop = landmarkCrop(box);
  const pt = (k: number): Point => [crop.x + output[2 * k]! * crop.side, crop.y + output[2 * k + 1]! * crop.side];
  const mean = (...ks: number[]): Point => {
    const ps = ks.map(pt);
    return [ps.reduce((a, p) => a + p[0], 0) / ps.length, ps.reduce((a, p) => a + p[1], 0) / ps.length];
  };
  return [mean(37, 38, 40, 41), mean(43, 44, 46, 47), pt(30), mean(48, 60), mean(54, 64)];
}
