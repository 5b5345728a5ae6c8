import { ALIGNED_SIDE } from '../align/align.js';
import type { FiveLandmarks, Point } from '../detect/types.js';

/**
 * What can be measured about one detected face before it is trusted: the inputs of the quality
 * gates (libs/recognition's decision policy). Measured in the inference worker, where the aligned
 * crop is at hand.
 */
export interface FaceQuality {
  /** Distance between the two eye landmarks, pixels of the original image. */
  eyeDistancePx: number;
  /**
   * Detail in the aligned face: variance of the Laplacian over the eyes-to-mouth region of the
   * grey 112x112 crop divided by the variance of its grey levels (so contrast and exposure do not
   * count, only how sharp the edges are). Undefined when the face was not aligned.
   */
  sharpness: number | undefined;
  /** Estimated head turn, degrees; positive: the nose points to the image's right. */
  yawDeg: number;
  /** Estimated head tilt, degrees; positive: looking down. */
  pitchDeg: number;
  /** Share (0..1) of the face's core (eyes, nose, mouth and a margin) lying outside the image. */
  edgeCut: number;
}

// Proportions of the ArcFace template in units of the eye distance (35.24 px there): eye line to
// mouth line 1.154; the nose tip sits 0.495 of the way down in a frontal face.
const EYES_TO_MOUTH = 1.154;
const FRONTAL_NOSE_DROP = 0.495;
/**
 * How far the nose tip stands in front of the eye and mouth corners, in eye distances
 * (anthropometric averages put it at about half to two thirds): the depth that turns the nose's
 * 2-D offset into an angle.
 */
const NOSE_DEPTH = 0.55;
/** Margin around the landmarks' box that counts as the face's core, in eye distances. */
const CORE_MARGIN = 0.25;

export const eyeDistance = (l: FiveLandmarks): number => Math.hypot(l[1][0] - l[0][0], l[1][1] - l[0][1]);

/**
 * Yaw and pitch from the 5 landmarks with a rigid-face approximation: after removing roll (the
 * eyes made level), the nose tip's sideways offset from the midpoint of eyes and mouth corners is
 * depth·sin(yaw) while the eye distance shrinks by cos(yaw), so offset/eyeDistance = depth·tan(yaw);
 * pitch likewise moves the nose tip between the eye and mouth lines. Rough (±10° or so), and meant
 * only to catch faces turned far enough that their embedding cannot be trusted.
 */
export function estimatePose(l: FiveLandmarks): { yawDeg: number; pitchDeg: number; rollDeg: number } {
  const roll = Math.atan2(l[1][1] - l[0][1], l[1][0] - l[0][0]);
  const c = Math.cos(-roll),
    s = Math.sin(-roll);
  const [le, re, nose, ml, mr] = l.map(([x, y]): Point => [x * c - y * s, x * s + y * c]) as FiveLandmarks;
  const ied = re[0] - le[0];
  if (ied <= 0) return { yawDeg: 90, pitchDeg: 0, rollDeg: (roll * 180) / Math.PI };
  const midX = (le[0] + re[0] + ml[0] + mr[0]) / 4;
  const yaw = Math.atan((nose[0] - midX) / ied / NOSE_DEPTH);
  const eyeY = (le[1] + re[1]) / 2;
  const mouthY = (ml[1] + mr[1]) / 2;
  const drop = mouthY > eyeY ? (nose[1] - eyeY) / (mouthY - eyeY) : FRONTAL_NOSE_DROP;
  const pitch = Math.atan(((drop - FRONTAL_NOSE_DROP) * EYES_TO_MOUTH) / NOSE_DEPTH);
  const deg = (r: number): number => (r * 180) / Math.PI;
  return { yawDeg: deg(yaw), pitchDeg: deg(pitch), rollDeg: deg(roll) };
}

/** Share of the landmarks' box, widened by a quarter eye distance on every side, outside a width × height image. */
export function edgeCut(l: FiveLandmarks, width: number, height: number): number {
  const margin = CORE_MARGIN * eyeDistance(l);
  const xs = l.map((p) => p[0]),
    ys = l.map((p) => p[1]);
  const x1 = Math.min(...xs) - margin,
    x2 = Math.max(...xs) + margin;
  const y1 = Math.min(...ys) - margin,
    y2 = Math.max(...ys) + margin;
  const area = (x2 - x1) * (y2 - y1);
  if (area <= 0) return 1;
  const inside = Math.max(0, Math.min(x2, width) - Math.max(x1, 0)) * Math.max(0, Math.min(y2, height) - Math.max(y1, 0));
  return 1 - inside / area;
}

// eyes-to-mouth region of the 112x112 template (eyes at y≈52, mouth at y≈92)
const REGION = { x1: 24, x2: 88, y1: 32, y2: 100 };

/** See {@link FaceQuality.sharpness}: normalised Laplacian variance of an aligned 112x112 RGB face. */
export function sharpness(aligned: Uint8Array): number {
  const n = ALIGNED_SIDE;
  const grey = (x: number, y: number): number => {
    const i = (y * n + x) * 3;
    return 0.299 * aligned[i]! + 0.587 * aligned[i + 1]! + 0.114 * aligned[i + 2]!;
  };
  let lSum = 0,
    lSq = 0,
    gSum = 0,
    gSq = 0,
    count = 0;
  for (let y = REGION.y1; y < REGION.y2; y++) {
    for (let x = REGION.x1; x < REGION.x2; x++) {
      const g = grey(x, y);
      const lap = grey(x - 1, y) + grey(x + 1, y) + grey(x, y - 1) + grey(x, y + 1) - 4 * g;
      lSum += lap;
      lSq += lap * lap;
      gSum += g;
      gSq += g * g;
      count++;
    }
  }
  const lapVar = lSq / count - (lSum / count) ** 2;
  const greyVar = gSq / count - (gSum / count) ** 2;
  // a flat patch (no contrast at all) has no detail either
  return greyVar < 1 ? 0 : lapVar / greyVar;
}

/** The quality of one detected face; `aligned` (its 112x112 crop) gives the sharpness. */
export function measureQuality(landmarks: FiveLandmarks, width: number, height: number, aligned?: Uint8Array): FaceQuality {
  const { yawDeg, pitchDeg } = estimatePose(landmarks);
  return {
    eyeDistancePx: eyeDistance(landmarks),
    sharpness: aligned ? sharpness(aligned) : undefined,
    yawDeg,
    pitchDeg,
    edgeCut: edgeCut(landmarks, width, height),
  };
}
