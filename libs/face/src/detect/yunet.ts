import type { RgbImage } from '../image/decode.js';
import { nms, type DetectOptions, type Detection, type FiveLandmarks, type Point } from './types.js';

export const YUNET_STRIDES = [8, 16, 32] as const;

/** Padded input size for YuNet: both sides rounded up to a multiple of 32. */
export function yunetInputSize(width: number, height: number): { width: number; height: number } {
  return { width: Math.ceil(width / 32) * 32, height: Math.ceil(height / 32) * 32 };
}

/**
 * YuNet input: BGR, float 0..255, NCHW, the image in the top-left corner of a zero-padded
 * canvas whose sides are multiples of 32.
 */
export function yunetTensorData(image: RgbImage): { data: Float32Array; width: number; height: number } {
  const { width: W, height: H } = yunetInputSize(image.width, image.height);
  const plane = W * H;
  const data = new Float32Array(3 * plane);
  const src = image.data;
  for (let y = 0; y < image.height; y++) {
    let s = y * image.width * 3;
    let d = y * W;
    for (let x = 0; x < image.width; x++, s += 3, d++) {
      data[d] = src[s + 2]!; // B
      data[plane + d] = src[s + 1]!; // G
      data[2 * plane + d] = src[s]!; // R
    }
  }
  return { data, width: W, height: H };
}

export type YunetOutputs = Record<string, { data: Float32Array | ArrayLike<number> }>;

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Decodes YuNet's per-stride outputs into detections in input-tensor pixels. One anchor per cell;
 * scores are already sigmoid; score = sqrt(cls · obj).
 */
export function decodeYunet(outputs: YunetOutputs, inputWidth: number, inputHeight: number, options: DetectOptions): Detection[] {
  const found: Detection[] = [];
  for (const s of YUNET_STRIDES) {
    const cols = inputWidth / s;
    const rows = inputHeight / s;
    const cls = outputs[`cls_${s}`]!.data;
    const obj = outputs[`obj_${s}`]!.data;
    const bbox = outputs[`bbox_${s}`]!.data;
    const kps = outputs[`kps_${s}`]!.data;
    const cells = rows * cols;
    for (let i = 0; i < cells; i++) {
      const score = Math.sqrt(clamp01(cls[i]!) * clamp01(obj[i]!));
      if (!(score >= options.minScore)) continue; // also drops NaN from malformed outputs
      const row = Math.floor(i / cols);
      const col = i - row * cols;
      const cx = (col + bbox[i * 4]!) * s;
      const cy = (row + bbox[i * 4 + 1]!) * s;
      const w = Math.exp(bbox[i * 4 + 2]!) * s;
      const h = Math.exp(bbox[i * 4 + 3]!) * s;
      const landmarks = [0, 1, 2, 3, 4].map((k): Point => [(col + kps[i * 10 + 2 * k]!) * s, (row + kps[i * 10 + 2 * k + 1]!) * s]);
      found.push({ box: { x: cx - w / 2, y: cy - h / 2, w, h }, score, landmarks: landmarks as FiveLandmarks });
    }
  }
  return nms(found, options.nmsIou);
}
