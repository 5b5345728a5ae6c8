import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cropRegion, distanceToSimilarity, similarityToDistance } from './rekognition-backend.js';

describe('similarity ↔ distance', () => {
  test('distance = 1 − Similarity/100, and back', () => {
    assert.deepEqual([100, 99, 80, 37.5, 0].map(similarityToDistance), [0, 0.01, 0.2, 0.625, 1]);
    assert.deepEqual([0, 0.01, 0.2, 0.625, 1].map(distanceToSimilarity), [100, 99, 80, 37.5, 0]);
    assert.equal(distanceToSimilarity(1.5), 0, 'clamped to what FaceMatchThreshold accepts');
    assert.equal(similarityToDistance(97.123456789), 0.028765);
  });
});

describe('cropRegion', () => {
  test('the box with a 30 % margin, clamped to the image; large faces are not enlarged', () => {
    assert.deepEqual(cropRegion({ x: 100, y: 100, w: 200, h: 200 }, 1000, 800), [{ left: 40, top: 40, width: 320, height: 320 }, 1]);
    assert.deepEqual(cropRegion({ x: 5, y: 700, w: 200, h: 200 }, 1000, 800), [{ left: 0, top: 640, width: 265, height: 160 }, 1]);
  });
  test('small faces are enlarged to 112 px, at most 4 times', () => {
    assert.equal(cropRegion({ x: 10, y: 10, w: 56, h: 60 }, 500, 500)[1], 2);
    assert.equal(cropRegion({ x: 10, y: 10, w: 10, h: 10 }, 500, 500)[1], 4);
  });
});
