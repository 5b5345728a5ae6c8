import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALIGNED_SIDE, ARCFACE_TEMPLATE } from '../align/align.js';
import type { FiveLandmarks, Point } from '../detect/types.js';
import { edgeCut, estimatePose, eyeDistance, measureQuality, sharpness } from './face-quality.js';

const move = (l: FiveLandmarks, f: (p: Point) => Point): FiveLandmarks => l.map((p) => f([p[0], p[1]])) as FiveLandmarks;
const rotate = (l: FiveLandmarks, deg: number): FiveLandmarks => {
  const r = (deg * Math.PI) / 180,
    c = Math.cos(r),
    s = Math.sin(r);
  return move(l, ([x, y]) => [x * c - y * s, x * s + y * c]);
};

describe('estimatePose', () => {
  test('the ArcFace template is frontal', () => {
    const pose = estimatePose(ARCFACE_TEMPLATE);
    assert.ok(Math.abs(pose.yawDeg) < 1, `yaw ${pose.yawDeg}`);
    assert.ok(Math.abs(pose.pitchDeg) < 1, `pitch ${pose.pitchDeg}`);
  });

  test('a nose moved sideways reads as yaw, whatever the roll and scale', () => {
    const ied = eyeDistance(ARCFACE_TEMPLATE);
    // nose offset of depth·tan(40°) eye distances: 40° of yaw
    const shift = 0.55 * Math.tan((40 * Math.PI) / 180) * ied;
    const turned = ARCFACE_TEMPLATE.map((p, i) => (i === 2 ? [p[0] + shift, p[1]] : p)) as FiveLandmarks;
    for (const roll of [0, 25, -60]) {
      const pose = estimatePose(move(rotate(turned, roll), ([x, y]) => [3 * x + 100, 3 * y - 40]));
      assert.ok(Math.abs(pose.yawDeg - 40) < 0.5, `roll ${roll}: yaw ${pose.yawDeg}`);
      assert.ok(Math.abs(pose.rollDeg - roll) < 0.5, `roll ${pose.rollDeg}`);
    }
    const other = estimatePose(ARCFACE_TEMPLATE.map((p, i) => (i === 2 ? [p[0] - shift, p[1]] : p)) as FiveLandmarks);
    assert.ok(Math.abs(other.yawDeg + 40) < 0.5, `mirrored yaw ${other.yawDeg}`);
  });

  test('a nose moved towards the mouth reads as pitch (looking down)', () => {
    const down = ARCFACE_TEMPLATE.map((p, i) => (i === 2 ? [p[0], p[1] + 12] : p)) as FiveLandmarks;
    const pose = estimatePose(down);
    assert.ok(pose.pitchDeg > 20 && pose.pitchDeg < 40, `pitch ${pose.pitchDeg}`);
    assert.ok(Math.abs(pose.yawDeg) < 1);
  });
});

describe('edgeCut', () => {
  test('0 inside the image, the share outside when the face runs off an edge', () => {
    assert.equal(edgeCut(ARCFACE_TEMPLATE, 112, 112), 0);
    // landmark box x 38.3..73.5 widened by 8.8 on each side: 29.5..82.3; y 51.5..92.4 → 42.7..101.2
    const cut = edgeCut(
      move(ARCFACE_TEMPLATE, ([x, y]) => [x - 50, y]),
      112,
      112,
    );
    // x −20.5..32.3: 20.5 of 52.8 outside
    assert.ok(Math.abs(cut - 20.5 / 52.8) < 0.01, `cut ${cut}`);
    assert.equal(
      edgeCut(
        move(ARCFACE_TEMPLATE, ([x, y]) => [x + 500, y]),
        112,
        112,
      ),
      1,
    );
  });
});

describe('sharpness', () => {
  const face = (f: (x: number, y: number) => number): Uint8Array => {
    const out = new Uint8Array(ALIGNED_SIDE * ALIGNED_SIDE * 3);
    for (let y = 0; y < ALIGNED_SIDE; y++) for (let x = 0; x < ALIGNED_SIDE; x++) out.fill(f(x, y), (y * ALIGNED_SIDE + x) * 3, (y * ALIGNED_SIDE + x) * 3 + 3);
    return out;
  };

  test('fine detail is sharp, a smooth ramp is not, a flat patch has none, and contrast does not matter', () => {
    const checker = sharpness(face((x, y) => (((x >> 1) + (y >> 1)) % 2 ? 200 : 50)));
    const ramp = sharpness(face((x) => 40 + x));
    assert.ok(checker > 1, `checker ${checker}`);
    assert.ok(ramp < 0.01, `ramp ${ramp}`);
    assert.equal(sharpness(face(() => 128)), 0);
    const lowContrast = sharpness(face((x, y) => (((x >> 1) + (y >> 1)) % 2 ? 110 : 95)));
    assert.ok(Math.abs(lowContrast - checker) / checker < 0.05, `${lowContrast} vs ${checker}`);
  });
});

test('measureQuality puts them together; sharpness only with a crop', () => {
  const q = measureQuality(ARCFACE_TEMPLATE, 112, 112);
  assert.ok(Math.abs(q.eyeDistancePx - 35.24) < 0.01);
  assert.equal(q.sharpness, undefined);
  assert.equal(q.edgeCut, 0);
});
