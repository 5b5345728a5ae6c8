import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ALIGNED_SIDE, ARCFACE_TEMPLATE, alignFace, alignedFootprint, estimateSimilarity, sourcePerOutput, type Similarity } from './align.js';
import type { FiveLandmarks, Point } from '../detect/types.js';
import type { RgbImage } from '../image/decode.js';

const apply = (t: Similarity, p: readonly [number, number]): Point => [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
const mapFive = (t: Similarity, ps: FiveLandmarks): FiveLandmarks => ps.map((p) => apply(t, p)) as FiveLandmarks;

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

/** Sum of squared residuals of `t` mapping `from` onto `to`. */
function residual(t: Similarity, from: readonly Point[], to: readonly Point[]): number {
  let sum = 0;
  from.forEach((p, i) => {
    const q = apply(t, p);
    sum += (q[0] - to[i]![0]) ** 2 + (q[1] - to[i]![1]) ** 2;
  });
  return sum;
}

// scale 1.7, rotation 0.3 rad, shift (12.5, -4.25)
const scale = 1.7,
  angle = 0.3;
const known: Similarity = { a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx: 12.5, ty: -4.25 };

describe('estimateSimilarity', () => {
  test('recovers a known rotation + scale + translation from the 5 points', () => {
    const moved = mapFive(known, ARCFACE_TEMPLATE);
    const t = estimateSimilarity(ARCFACE_TEMPLATE, moved);
    close(t.a, known.a, 1e-9, 'a');
    close(t.b, known.b, 1e-9, 'b');
    close(t.tx, known.tx, 1e-9, 'tx');
    close(t.ty, known.ty, 1e-9, 'ty');
  });

  test('transformed → template gives the exact inverse transform', () => {
    const moved = mapFive(known, ARCFACE_TEMPLATE);
    const t = estimateSimilarity(moved, ARCFACE_TEMPLATE);
    const det = known.a ** 2 + known.b ** 2;
    // inverse of u = a·x − b·y + tx, v = b·x + a·y + ty
    const inv: Similarity = {
      a: known.a / det,
      b: -known.b / det,
      tx: -(known.a * known.tx + known.b * known.ty) / det,
      ty: -(-known.b * known.tx + known.a * known.ty) / det,
    };
    close(t.a, inv.a, 1e-9, 'a');
    close(t.b, inv.b, 1e-9, 'b');
    close(t.tx, inv.tx, 1e-9, 'tx');
    close(t.ty, inv.ty, 1e-9, 'ty');
    // scale 1/1.7 and rotation −0.3
    close(Math.hypot(t.a, t.b), 1 / scale, 1e-12, 'scale');
    close(Math.atan2(t.b, t.a), -angle, 1e-12, 'angle');
    // and it maps every moved point back onto the template
    moved.forEach((p, i) => {
      const q = apply(t, p);
      close(q[0], ARCFACE_TEMPLATE[i]![0], 1e-9, `x${i}`);
      close(q[1], ARCFACE_TEMPLATE[i]![1], 1e-9, `y${i}`);
    });
  });

  test('pure translation and pure scale', () => {
    const shifted = ARCFACE_TEMPLATE.map(([x, y]): Point => [x + 7, y - 3]);
    const t = estimateSimilarity(shifted, ARCFACE_TEMPLATE);
    close(t.a, 1, 1e-12, 'a');
    close(t.b, 0, 1e-12, 'b');
    close(t.tx, -7, 1e-9, 'tx');
    close(t.ty, 3, 1e-9, 'ty');

    const doubled = ARCFACE_TEMPLATE.map(([x, y]): Point => [2 * x, 2 * y]);
    const s = estimateSimilarity(doubled, ARCFACE_TEMPLATE);
    close(s.a, 0.5, 1e-12, 'a');
    close(s.b, 0, 1e-12, 'b');
    close(s.tx, 0, 1e-9, 'tx');
    close(s.ty, 0, 1e-9, 'ty');
  });

  test('never reflects: mirrored points get a proper rotation and a worse fit', () => {
    const moved = mapFive(known, ARCFACE_TEMPLATE);
    const mirrored = moved.map(([x, y]): Point => [-x, y]);
    const straight = estimateSimilarity(moved, ARCFACE_TEMPLATE);
    const flipped = estimateSimilarity(mirrored, ARCFACE_TEMPLATE);
    // the linear part [[a, −b], [b, a]] has determinant a² + b² > 0: orientation preserved
    assert.ok(flipped.a ** 2 + flipped.b ** 2 > 0);
    const straightErr = residual(straight, moved, ARCFACE_TEMPLATE);
    const flippedErr = residual(flipped, mirrored, ARCFACE_TEMPLATE);
    assert.ok(straightErr < 1e-15, `un-mirrored residual ${straightErr}`);
    // a reflecting fit would be exact; the similarity cannot match the mirrored face
    assert.ok(flippedErr > 100, `mirrored residual ${flippedErr}`);
    assert.ok(flippedErr > straightErr);
  });

  test('degenerate input (all points equal) gives the identity linear part', () => {
    const same: Point[] = [
      [5, 5],
      [5, 5],
      [5, 5],
      [5, 5],
      [5, 5],
    ];
    const t = estimateSimilarity(same, ARCFACE_TEMPLATE);
    assert.equal(t.a, 1);
    assert.equal(t.b, 0);
    // centroid maps onto the template centroid
    const cx = ARCFACE_TEMPLATE.reduce((s, p) => s + p[0], 0) / 5;
    const cy = ARCFACE_TEMPLATE.reduce((s, p) => s + p[1], 0) / 5;
    close(t.tx, cx - 5, 1e-12, 'tx');
    close(t.ty, cy - 5, 1e-12, 'ty');
  });
});

describe('alignFace', () => {
  const W = 200,
    H = 200;
  // R = x, G = y, B = 255 − y: linear, so bilinear sampling reproduces it exactly
  const red = (x: number): number => x;
  const green = (_x: number, y: number): number => y;
  const blue = (_x: number, y: number): number => 255 - y;
  const image: RgbImage = { data: new Uint8Array(W * H * 3), width: W, height: H };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      image.data[i] = red(x);
      image.data[i + 1] = green(x, y);
      image.data[i + 2] = blue(x, y);
    }
  }

  const pixel = (out: Uint8Array, u: number, v: number): [number, number, number] => {
    const o = (v * ALIGNED_SIDE + u) * 3;
    return [out[o]!, out[o + 1]!, out[o + 2]!];
  };

  test('scaled + shifted face: output pixel at a template point = input pixel at the source point', () => {
    const toImage: Similarity = { a: 1.5, b: 0, tx: 20, ty: 30 };
    const landmarks = mapFive(toImage, ARCFACE_TEMPLATE);
    const out = alignFace(image, landmarks);
    assert.ok(out instanceof Uint8Array);
    assert.equal(out.length, 112 * 112 * 3);

    for (const [tu, tv] of ARCFACE_TEMPLATE) {
      const u = Math.round(tu),
        v = Math.round(tv);
      const [sx, sy] = apply(toImage, [u, v]);
      const [r, g, b] = pixel(out, u, v);
      close(r, red(sx), 1, `R at template (${u},${v})`);
      close(g, green(sx, sy), 1, `G at template (${u},${v})`);
      close(b, blue(sx, sy), 1, `B at template (${u},${v})`);
    }
    // e.g. the left-eye template pixel (38, 52) samples the source at (77, 108)
    assert.deepEqual(pixel(out, 38, 52), [77, 108, 147]);
  });

  test('every output pixel is the rounded source value (scale + shift)', () => {
    const toImage: Similarity = { a: 1.5, b: 0, tx: 20, ty: 30 };
    const out = alignFace(image, mapFive(toImage, ARCFACE_TEMPLATE));
    let worst = 0;
    for (let v = 0; v < ALIGNED_SIDE; v++) {
      for (let u = 0; u < ALIGNED_SIDE; u++) {
        const [sx, sy] = apply(toImage, [u, v]);
        const [r, g, b] = pixel(out, u, v);
        worst = Math.max(worst, Math.abs(r - red(sx)), Math.abs(g - green(sx, sy)), Math.abs(b - blue(sx, sy)));
      }
    }
    assert.ok(worst <= 0.5 + 1e-6, `worst error ${worst}`);
  });

  test('rotated face is rotated back upright', () => {
    // rotate the template by 25° and scale by 1.2 about a point, all inside the 200x200 image
    const ang = (25 * Math.PI) / 180;
    const toImage: Similarity = { a: 1.2 * Math.cos(ang), b: 1.2 * Math.sin(ang), tx: 60, ty: 10 };
    const out = alignFace(image, mapFive(toImage, ARCFACE_TEMPLATE));
    let checked = 0,
      worst = 0;
    for (let v = 0; v < ALIGNED_SIDE; v++) {
      for (let u = 0; u < ALIGNED_SIDE; u++) {
        const [sx, sy] = apply(toImage, [u, v]);
        // away from the border, where clamping would change the value
        if (sx < 2 || sy < 2 || sx > W - 3 || sy > H - 3) continue;
        const [r, g, b] = pixel(out, u, v);
        worst = Math.max(worst, Math.abs(r - red(sx)), Math.abs(g - green(sx, sy)), Math.abs(b - blue(sx, sy)));
        checked++;
      }
    }
    assert.ok(checked > 5000, `only ${checked} interior pixels`);
    assert.ok(worst <= 0.5 + 1e-6, `worst error ${worst}`);
  });

  test('large faces are supersampled (anti-aliasing)', () => {
    // a 1-pixel checkerboard seen at 3 source pixels per output pixel: every output pixel averages
    // a 3x3 block (5 of one colour, 4 of the other), never a single black or white sample
    const side = 340;
    const board: RgbImage = { data: new Uint8Array(side * side * 3), width: side, height: side };
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) board.data.fill((x + y) % 2 === 0 ? 255 : 0, (y * side + x) * 3, (y * side + x) * 3 + 3);
    }
    const toImage: Similarity = { a: 3, b: 0, tx: 2, ty: 2 };
    const out = alignFace(board, mapFive(toImage, ARCFACE_TEMPLATE));
    const values = new Set(out);
    // round(255·5/9) = 142 and round(255·4/9) = 113
    assert.deepEqual(
      [...values].sort((p, q) => p - q),
      [113, 142],
    );
    // output (0,0) covers source pixels 1..3 x 1..3: 5 white ((x+y) even), 4 black
    assert.deepEqual(pixel(out, 0, 0), [142, 142, 142]);
    assert.deepEqual(pixel(out, 1, 0), [113, 113, 113]);
  });

  test('even at one source pixel per output pixel, 2x2 samples are averaged', () => {
    const side = 120;
    const board: RgbImage = { data: new Uint8Array(side * side * 3), width: side, height: side };
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) board.data.fill((x + y) % 2 === 0 ? 255 : 0, (y * side + x) * 3, (y * side + x) * 3 + 3);
    }
    const out = alignFace(board, mapFive({ a: 1, b: 0, tx: 4, ty: 4 }, ARCFACE_TEMPLATE));
    // samples at ±¼ pixel blend neighbours, so no output pixel is pure black or white
    assert.ok(
      out.every((v) => v > 0 && v < 255),
      `range ${Math.min(...out)}..${Math.max(...out)}`,
    );
  });

  test('outside the image the output is black (a constant 0 border, as InsightFace aligns)', () => {
    // a tiny face in the top-left corner: most of the 112x112 output lies left/above of the image
    const toImage: Similarity = { a: 0.5, b: 0, tx: -20, ty: -20 };
    const out = alignFace(image, mapFive(toImage, ARCFACE_TEMPLATE));
    // output (0,0) maps to source (−20,−20): outside, black
    assert.deepEqual(pixel(out, 0, 0), [0, 0, 0]);
    // output (60,60) maps to source (10,10): inside, the image's colour there
    assert.notDeepEqual(pixel(out, 60, 60), [0, 0, 0]);
  });
});

describe('alignedFootprint and sourcePerOutput', () => {
  const ang = (30 * Math.PI) / 180;
  const toImage: Similarity = { a: 2.5 * Math.cos(ang), b: 2.5 * Math.sin(ang), tx: 140, ty: 35 };
  const marks = mapFive(toImage, ARCFACE_TEMPLATE);

  test('source pixels per output pixel is the scale from the template to the face', () => {
    close(sourcePerOutput(marks), 2.5, 1e-9, 'scale');
  });

  test('the footprint holds every source pixel the warp reads, plus the margin', () => {
    const f = alignedFootprint(marks, 2);
    // every sample point of the warp (output pixel centres ± half a pixel) lies inside, with both bilinear neighbours
    for (const u of [-0.5, 0, 55.5, 111, 111.5]) {
      for (const v of [-0.5, 0, 55.5, 111, 111.5]) {
        const [x, y] = apply(toImage, [u, v]);
        assert.ok(
          Math.floor(x) - 2 >= f.x1 && Math.floor(x) + 1 + 2 <= f.x2 && Math.floor(y) - 2 >= f.y1 && Math.floor(y) + 1 + 2 <= f.y2,
          `(${u}, ${v}) → (${x}, ${y}) in ${JSON.stringify(f)}`,
        );
      }
    }
    // and not much more: the rotated square's bounding box (side 112·2.5·(cos 30° + sin 30°) ≈ 382.6)
    assert.ok(f.x2 - f.x1 < 382.6 + 2 * 2 + 4 && f.y2 - f.y1 < 382.6 + 2 * 2 + 4, JSON.stringify(f));
  });

  test('aligning from the footprint alone gives the same crop as from the whole image', () => {
    const W = 600,
      H = 500;
    const big: RgbImage = { data: new Uint8Array(W * H * 3), width: W, height: H };
    for (let i = 0; i < big.data.length; i++) big.data[i] = (i * 2654435761) >>> 24;
    const f = alignedFootprint(marks, 2);
    const left = Math.max(0, f.x1),
      top = Math.max(0, f.y1),
      right = Math.min(W, f.x2),
      bottom = Math.min(H, f.y2);
    const region: RgbImage = { data: new Uint8Array((right - left) * (bottom - top) * 3), width: right - left, height: bottom - top };
    for (let y = top; y < bottom; y++) region.data.set(big.data.subarray((y * W + left) * 3, (y * W + right) * 3), (y - top) * region.width * 3);
    const shifted = marks.map(([x, y]) => [x - left, y - top]) as FiveLandmarks;
    assert.deepEqual(alignFace(region, shifted), alignFace(big, marks));
  });
});
