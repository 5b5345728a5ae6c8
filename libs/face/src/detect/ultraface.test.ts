import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ULTRAFACE_HEIGHT, ULTRAFACE_WIDTH, decodeUltraface, fiveFromSixtyEight, landmarkCrop } from './ultraface.js';

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

describe('decodeUltraface', () => {
  const options = { minScore: 0.6, nmsIou: 0.3 };
  const W = ULTRAFACE_WIDTH,
    H = ULTRAFACE_HEIGHT;

  test('converts normalised corner boxes to pixels, thresholds on the face score, clips', () => {
    assert.equal(W, 320);
    assert.equal(H, 240);
    // [background, face] per anchor
    const scores = [
      0.05,
      0.95, // kept
      0.6,
      0.4, // below minScore
      0.2,
      0.8, // kept after clipping
      0.1,
      0.9, // degenerate after conversion (0.5 px wide): dropped
      0.9,
      0.1, // background: dropped
    ];
    const boxes = [0.125, 0.25, 0.375, 0.75, 0.5, 0.5, 0.75, 0.75, -0.125, 0.875, 0.25, 1.25, 0.5, 0.5, 0.5 + 0.5 / 320, 0.75, 0, 0, 1, 1];
    const found = decodeUltraface(scores, boxes, W, H, options);
    assert.deepEqual(found, [
      // 0.125·320 = 40, 0.25·240 = 60, 0.375·320 = 120, 0.75·240 = 180
      { box: { x: 40, y: 60, w: 80, h: 120 }, score: 0.95 },
      // x1 −40 → 0, y1 210, x2 80, y2 300 → 240
      { box: { x: 0, y: 210, w: 80, h: 30 }, score: 0.8 },
    ]);
  });

  test('scales to the requested width and height', () => {
    const found = decodeUltraface([0, 1], [0.25, 0.5, 0.75, 1], 640, 480, options);
    assert.deepEqual(found, [{ box: { x: 160, y: 240, w: 320, h: 240 }, score: 1 }]);
  });

  test('the score at exactly minScore is kept', () => {
    assert.equal(decodeUltraface([0.4, 0.6], [0, 0, 0.5, 0.5], W, H, options).length, 1);
  });

  test('overlapping boxes go through NMS', () => {
    const scores = [0.3, 0.7, 0.1, 0.9];
    const boxes = [0.25, 0.25, 0.5, 0.5, 0.265625, 0.25, 0.515625, 0.5];
    const found = decodeUltraface(scores, boxes, W, H, options);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.score, 0.9);
    assert.deepEqual(found[0]!.box, { x: 85, y: 60, w: 80, h: 60 });
  });

  test('works on Float32Array outputs', () => {
    const found = decodeUltraface(new Float32Array([0.25, 0.75]), new Float32Array([0.5, 0.5, 1, 1]), W, H, options);
    assert.deepEqual(found, [{ box: { x: 160, y: 120, w: 160, h: 120 }, score: 0.75 }]);
  });
});

describe('landmarkCrop', () => {
  test('square of side = box height, centred on the box', () => {
    assert.deepEqual(landmarkCrop({ x: 10, y: 20, w: 40, h: 60 }), { x: 0, y: 20, side: 60 });
    assert.deepEqual(landmarkCrop({ x: 100, y: 50, w: 80, h: 40 }), { x: 120, y: 50, side: 40 });
    // may start outside the image
    assert.deepEqual(landmarkCrop({ x: 0, y: 0, w: 10, h: 30 }), { x: -10, y: 0, side: 30 });
  });
});

describe('fiveFromSixtyEight', () => {
  const box = { x: 10, y: 20, w: 40, h: 60 }; // crop: x 0, y 20, side 60

  test('linear pattern: point k = (k/100, k/200)', () => {
    const output = new Float64Array(136);
    for (let k = 0; k < 68; k++) {
      output[2 * k] = k / 100;
      output[2 * k + 1] = k / 200;
    }
    const at = (k: number): [number, number] => [0 + (k / 100) * 60, 20 + (k / 200) * 60];
    const five = fiveFromSixtyEight(output, box);
    // the mean of points 37, 38, 40, 41 is point 39 of a linear pattern, and so on
    const expected = [at(39), at(45), at(30), at(54), at(59)];
    assert.equal(five.length, 5);
    five.forEach((p, i) => {
      close(p[0], expected[i]![0], `point ${i} x`);
      close(p[1], expected[i]![1], `point ${i} y`);
    });
    // exact values: left eye (23.4, 31.7), right eye (27, 33.5), nose (18, 29), mouth (32.4, 36.2) and (35.4, 37.7)
    const rounded = five.map((p) => p.map((v) => Math.round(v * 1e6) / 1e6));
    assert.deepEqual(rounded, [
      [23.4, 31.7],
      [27, 33.5],
      [18, 29],
      [32.4, 36.2],
      [35.4, 37.7],
    ]);
  });

  test('non-linear pattern: exactly the documented landmark indices are used', () => {
    // point k = (k/68, (k·k)/(68·68)): the mean of an index set identifies it
    const output = new Float64Array(136);
    for (let k = 0; k < 68; k++) {
      output[2 * k] = k / 68;
      output[2 * k + 1] = (k * k) / (68 * 68);
    }
    const crop = { x: 0, y: 20, side: 60 };
    const at = (k: number): [number, number] => [crop.x + (k / 68) * crop.side, crop.y + ((k * k) / (68 * 68)) * crop.side];
    const mean = (...ks: number[]): [number, number] => [ks.reduce((s, k) => s + at(k)[0], 0) / ks.length, ks.reduce((s, k) => s + at(k)[1], 0) / ks.length];
    const expected = [mean(37, 38, 40, 41), mean(43, 44, 46, 47), at(30), mean(48, 60), mean(54, 64)];
    const five = fiveFromSixtyEight(output, box);
    five.forEach((p, i) => {
      close(p[0], expected[i]![0], `point ${i} x`);
      close(p[1], expected[i]![1], `point ${i} y`);
    });
    // eye corners 36 and 39 would move the y of the left eye: (36² + 37² + 38² + 39² + 40² + 41²)/6 ≠ (37² + 38² + 40² + 41²)/4
    const withCorners = mean(36, 37, 38, 39, 40, 41);
    assert.ok(Math.abs(five[0][1] - withCorners[1]) > 1e-3);
  });

  test('only points 37, 38, 40, 41 move the left eye', () => {
    const output = new Float64Array(136); // every point at the crop's top-left corner (0, 20)
    output[2 * 37] = 0.4;
    output[2 * 41 + 1] = 0.8;
    output[2 * 36] = 1; // eye corner: ignored
    const five = fiveFromSixtyEight(output, box);
    close(five[0][0], (0.4 * 60) / 4, 'left eye x');
    close(five[0][1], 20 + (0.8 * 60) / 4, 'left eye y');
    assert.deepEqual(five[1], [0, 20]);
    assert.deepEqual(five[2], [0, 20]);
  });
});
