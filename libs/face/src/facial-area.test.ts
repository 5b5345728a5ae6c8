import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { toFacialArea } from './facial-area.js';
import type { FiveLandmarks } from './detect/types.js';

describe('toFacialArea', () => {
  // landmarks in image order: image-left eye, image-right eye, nose, image-left mouth, image-right mouth
  const landmarks: FiveLandmarks = [
    [30.4, 40.6],
    [70.2, 41.49],
    [50.5, 60.5],
    [35.1, 80.9],
    [64.7, 79.2],
  ];

  test("image-left eye/mouth become right_eye/mouth_right (deepface: the person's side)", () => {
    const area = toFacialArea({ box: { x: 10, y: 20, w: 80, h: 90 }, landmarks });
    assert.deepEqual(area, {
      x: 10,
      y: 20,
      w: 80,
      h: 90,
      left_eye: [70, 41],
      right_eye: [30, 41],
      nose: [51, 61],
      mouth_left: [65, 79],
      mouth_right: [35, 81],
    });
    // the person's left eye is on the image's right
    assert.ok(area.left_eye[0] > area.right_eye[0]);
    assert.ok(area.mouth_left[0] > area.mouth_right[0]);
  });

  test('rounds the box edges to integers', () => {
    // x 10.4 → 10, right edge 89.7 → 90; y 20.6 → 21, bottom edge 110.8 → 111
    const area = toFacialArea({ box: { x: 10.4, y: 20.6, w: 79.3, h: 90.2 }, landmarks });
    assert.equal(area.x, 10);
    assert.equal(area.y, 21);
    assert.equal(area.w, 80);
    assert.equal(area.h, 90);
    for (const v of [area.x, area.y, area.w, area.h, ...area.left_eye, ...area.right_eye, ...area.nose, ...area.mouth_left, ...area.mouth_right]) {
      assert.ok(Number.isInteger(v), `${v} is not an integer`);
    }
  });

  test('a box starting outside the image is clipped at 0, keeping its far edge', () => {
    const area = toFacialArea({ box: { x: -3.2, y: -0.4, w: 20, h: 30.6 }, landmarks });
    assert.equal(area.x, 0);
    assert.equal(area.y, 0);
    assert.equal(area.w, 17); // round(16.8)
    assert.equal(area.h, 30); // round(30.2)
  });

  test('ignores other fields of the face', () => {
    const face = { box: { x: 1, y: 2, w: 3, h: 4 }, landmarks, score: 0.9, embedding: new Float32Array(2) };
    const area = toFacialArea(face);
    assert.deepEqual(Object.keys(area).sort(), ['h', 'left_eye', 'mouth_left', 'mouth_right', 'nose', 'right_eye', 'w', 'x', 'y']);
  });
});
