import type { AnalysedFace } from './pipeline.js';

/**
 * deepface's `facial_area`: integer box and landmarks in original-image pixels. As in deepface,
 * `left_eye` / `mouth_left` are the person's left, which is on the image's right.
 */
export interface FacialArea {
  x: number;
  y: number;
  w: number;
  h: number;
  left_eye: [number, number];
  right_eye: [number, number];
  nose: [number, number];
  mouth_left: [number, number];
  mouth_right: [number, number];
}

const round = (p: readonly [number, number]): [number, number] => [Math.round(p[0]), Math.round(p[1])];

export function toFacialArea(face: Pick<AnalysedFace, 'box' | 'landmarks'>): FacialArea {
  const [imageLeftEye, imageRightEye, nose, imageLeftMouth, imageRightMouth] = face.landmarks;
  const x = Math.max(0, Math.round(face.box.x));
  const y = Math.max(0, Math.round(face.box.y));
  return {
    x,
    y,
    w: Math.round(face.box.x + face.box.w) - x,
    h: Math.round(face.box.y + face.box.h) - y,
    left_eye: round(imageRightEye),
    right_eye: round(imageLeftEye),
    nose: round(nose),
    mouth_left: round(imageRightMouth),
    mouth_right: round(imageLeftMouth),
  };
}
