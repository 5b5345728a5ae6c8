/** A point [x, y] in pixels. */
export type Point = [number, number];

/**
 * Five landmarks in the ArcFace template order, named by the side of the image they are on:
 * eye on the image's left, eye on the image's right, nose tip, mouth corner on the image's left,
 * mouth corner on the image's right.
 */
export type FiveLandmarks = [Point, Point, Point, Point, Point];

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Detection {
  box: Box;
  /** Detector confidence, 0..1. */
  score: number;
  landmarks: FiveLandmarks;
}

export interface DetectOptions {
  minScore: number;
  nmsIou: number;
}

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.w, b.x + b.w);
  const y2 = Math.min(a.y + a.h, b.y + b.h);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.w * a.h + b.w * b.h - inter;
  return union <= 0 ? 0 : inter / union;
}

/** Greedy non-maximum suppression: keeps the best-scoring box of each overlapping group. */
export function nms<T extends { box: Box; score: number }>(items: T[], maxIou: number): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const item of sorted) {
    if (kept.every((k) => iou(k.box, item.box) <= maxIou)) kept.push(item);
  }
  return kept;
}

/** Maps a detection by a uniform scale (working image → original image). */
export function scaleDetection(d: Detection, factor: number): Detection {
  const p = (q: Point): Point => [q[0] * factor, q[1] * factor];
  return {
    box: { x: d.box.x * factor, y: d.box.y * factor, w: d.box.w * factor, h: d.box.h * factor },
    score: d.score,
    landmarks: d.landmarks.map(p) as FiveLandmarks,
  };
}

/** Clips a box to the image. */
export function clipBox(box: Box, width: number, height: number): Box {
  const x1 = Math.min(Math.max(box.x, 0), width);
  const y1 = Math.min(Math.max(box.y, 0), height);
  const x2 = Math.min(Math.max(box.x + box.w, 0), width);
  const y2 = Math.min(Math.max(box.y + box.h, 0), height);
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}
