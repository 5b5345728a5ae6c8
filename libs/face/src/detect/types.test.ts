import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { clipBox, iou, nms, scaleDetection, type Box, type Detection } from './types.js';

const box = (x: number, y: number, w: number, h: number): Box => ({ x, y, w, h });

describe('iou', () => {
  test('identical boxes give 1', () => {
    assert.equal(iou(box(3, 4, 10, 20), box(3, 4, 10, 20)), 1);
  });

  test('disjoint and edge-touching boxes give 0', () => {
    assert.equal(iou(box(0, 0, 10, 10), box(20, 20, 5, 5)), 0);
    assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 10, 10)), 0);
    assert.equal(iou(box(0, 0, 10, 10), box(0, 10, 10, 10)), 0);
    // overlapping in x only
    assert.equal(iou(box(0, 0, 10, 10), box(5, 30, 10, 10)), 0);
  });

  test('known partial overlaps', () => {
    // half-shifted 10x10 squares: intersection 50, union 150
    assert.equal(iou(box(0, 0, 10, 10), box(5, 0, 10, 10)), 50 / 150);
    // quarter overlap: intersection 25, union 175
    assert.equal(iou(box(0, 0, 10, 10), box(5, 5, 10, 10)), 25 / 175);
    // one box inside the other: 4 / 100
    assert.equal(iou(box(0, 0, 10, 10), box(2, 2, 2, 2)), 0.04);
  });

  test('is symmetric', () => {
    const a = box(1, 2, 7, 9),
      b = box(4, -1, 6, 5);
    assert.equal(iou(a, b), iou(b, a));
    // intersection x 4..8, y 2..4 = 8; union 63 + 30 − 8 = 85
    assert.equal(iou(a, b), 8 / 85);
  });

  test('empty boxes give 0, not NaN', () => {
    assert.equal(iou(box(0, 0, 0, 0), box(0, 0, 0, 0)), 0);
  });
});

describe('nms', () => {
  const item = (name: string, score: number, b: Box) => ({ name, score, box: b });

  test('keeps the highest score of an overlapping group', () => {
    const items = [item('low', 0.6, box(1, 0, 10, 10)), item('high', 0.9, box(0, 0, 10, 10)), item('mid', 0.8, box(0, 1, 10, 10))];
    const kept = nms(items, 0.3);
    assert.deepEqual(
      kept.map((k) => k.name),
      ['high'],
    );
  });

  test('keeps disjoint boxes, sorted by score', () => {
    const items = [item('a', 0.5, box(0, 0, 10, 10)), item('b', 0.9, box(100, 100, 10, 10)), item('c', 0.7, box(50, 0, 10, 10))];
    assert.deepEqual(
      nms(items, 0.3).map((k) => k.name),
      ['b', 'c', 'a'],
    );
  });

  test('respects the IoU threshold', () => {
    // IoU of the pair is 1/3
    const items = [item('first', 0.9, box(0, 0, 10, 10)), item('second', 0.8, box(5, 0, 10, 10))];
    assert.deepEqual(
      nms(items, 0.3).map((k) => k.name),
      ['first'],
    );
    assert.deepEqual(
      nms(items, 0.4).map((k) => k.name),
      ['first', 'second'],
    );
    // a box is suppressed only when its IoU is above the limit: equal to it is kept
    assert.deepEqual(
      nms(items, 1 / 3).map((k) => k.name),
      ['first', 'second'],
    );
  });

  test('a suppressed box does not suppress others (greedy against kept boxes only)', () => {
    // A overlaps B, B overlaps C, A and C are disjoint: A and C survive
    const items = [item('A', 0.9, box(0, 0, 10, 10)), item('B', 0.8, box(6, 0, 10, 10)), item('C', 0.7, box(12, 0, 10, 10))];
    assert.deepEqual(
      nms(items, 0.2).map((k) => k.name),
      ['A', 'C'],
    );
  });

  test('does not modify its input and handles an empty list', () => {
    const items = [item('a', 0.1, box(0, 0, 1, 1)), item('b', 0.9, box(5, 5, 1, 1))];
    nms(items, 0.5);
    assert.deepEqual(
      items.map((k) => k.name),
      ['a', 'b'],
    );
    assert.deepEqual(nms([], 0.5), []);
  });
});

describe('scaleDetection', () => {
  test('scales box and landmarks, keeps the score, leaves the input alone', () => {
    const d: Detection = {
      box: box(10, 20, 30, 40),
      score: 0.75,
      landmarks: [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
        [9, 10],
      ],
    };
    const s = scaleDetection(d, 2.5);
    assert.deepEqual(s, {
      box: { x: 25, y: 50, w: 75, h: 100 },
      score: 0.75,
      landmarks: [
        [2.5, 5],
        [7.5, 10],
        [12.5, 15],
        [17.5, 20],
        [22.5, 25],
      ],
    });
    assert.deepEqual(d.box, box(10, 20, 30, 40));
    assert.deepEqual(d.landmarks[0], [1, 2]);
  });
});

describe('clipBox', () => {
  test('a box inside the image is unchanged', () => {
    assert.deepEqual(clipBox(box(10, 20, 30, 40), 100, 100), box(10, 20, 30, 40));
  });

  test('clips at the left/top', () => {
    assert.deepEqual(clipBox(box(-5, -10, 20, 30), 100, 100), box(0, 0, 15, 20));
  });

  test('clips at the right/bottom', () => {
    assert.deepEqual(clipBox(box(90, 95, 20, 20), 100, 120), box(90, 95, 10, 20));
    assert.deepEqual(clipBox(box(90, 115, 20, 20), 100, 120), box(90, 115, 10, 5));
  });

  test('x is clipped by the width and y by the height', () => {
    // a wide image: x = 90 is inside (width 100) although it is beyond the height 50
    assert.deepEqual(clipBox(box(90, 40, 20, 20), 100, 50), box(90, 40, 10, 10));
    // a tall image
    assert.deepEqual(clipBox(box(40, 90, 20, 20), 50, 100), box(40, 90, 10, 10));
  });

  test('a box larger than the image becomes the image', () => {
    assert.deepEqual(clipBox(box(-50, -50, 500, 500), 64, 48), box(0, 0, 64, 48));
  });

  test('a box fully outside collapses to zero size', () => {
    const c = clipBox(box(150, 10, 20, 20), 100, 100);
    assert.equal(c.w, 0);
    assert.equal(c.x, 100);
    const d = clipBox(box(-40, -40, 20, 20), 100, 100);
    assert.deepEqual(d, box(0, 0, 0, 0));
  });
});
