import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { YUNET_STRIDES, decodeYunet, yunetInputSize, yunetTensorData, type YunetOutputs } from './yunet.js';
import type { RgbImage } from '../image/decode.js';

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
}

describe('yunetInputSize', () => {
  test('rounds both sides up to multiples of 32', () => {
    assert.deepEqual(yunetInputSize(64, 64), { width: 64, height: 64 });
    assert.deepEqual(yunetInputSize(65, 33), { width: 96, height: 64 });
    assert.deepEqual(yunetInputSize(1, 1), { width: 32, height: 32 });
    assert.deepEqual(yunetInputSize(640, 479), { width: 640, height: 480 });
    assert.deepEqual(yunetInputSize(100, 31), { width: 128, height: 32 });
  });
});

describe('yunetTensorData', () => {
  test('BGR planes, NCHW, image top-left, zero padding right and bottom', () => {
    // 3x2 image, pixel (x, y) = RGB [10x+y+1, 100+10x+y, 200+10x+y]... distinct per channel
    const width = 3,
      height = 2;
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        data[i] = 1 + 10 * x + y; // R
        data[i + 1] = 100 + 10 * x + y; // G
        data[i + 2] = 200 + 10 * x + y; // B
      }
    }
    const image: RgbImage = { data, width, height };
    const t = yunetTensorData(image);
    assert.equal(t.width, 32);
    assert.equal(t.height, 32);
    assert.ok(t.data instanceof Float32Array);
    assert.equal(t.data.length, 3 * 32 * 32);

    const plane = 32 * 32;
    const expected = new Float32Array(3 * plane);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        expected[0 * plane + y * 32 + x] = 200 + 10 * x + y; // B first
        expected[1 * plane + y * 32 + x] = 100 + 10 * x + y; // G
        expected[2 * plane + y * 32 + x] = 1 + 10 * x + y; // R last
      }
    }
    assert.deepEqual(t.data, expected);
    // spot checks: pixel (2,1) in each plane, padding right of row 0 and below the image
    assert.equal(t.data[1 * 32 + 2], 221);
    assert.equal(t.data[plane + 1 * 32 + 2], 121);
    assert.equal(t.data[2 * plane + 1 * 32 + 2], 22);
    assert.equal(t.data[3], 0);
    assert.equal(t.data[2 * 32], 0);
  });

  test('values are 0..255, not normalised', () => {
    const image: RgbImage = { data: new Uint8Array([255, 128, 0]), width: 1, height: 1 };
    const t = yunetTensorData(image);
    assert.equal(t.data[0], 0);
    assert.equal(t.data[1024], 128);
    assert.equal(t.data[2048], 255);
  });
});

describe('decodeYunet', () => {
  const size = 64;
  const options = { minScore: 0.6, nmsIou: 0.3 };

  /** Empty outputs, by default for a 64x64 input: 8x8, 4x4 and 2x2 cells. */
  function emptyOutputs(width = size, height = size): YunetOutputs {
    const outputs: YunetOutputs = {};
    for (const s of YUNET_STRIDES) {
      const cells = (width / s) * (height / s);
      outputs[`cls_${s}`] = { data: new Float64Array(cells) };
      outputs[`obj_${s}`] = { data: new Float64Array(cells) };
      outputs[`bbox_${s}`] = { data: new Float64Array(cells * 4) };
      outputs[`kps_${s}`] = { data: new Float64Array(cells * 10) };
    }
    return outputs;
  }

  function put(
    outputs: YunetOutputs,
    stride: number,
    row: number,
    col: number,
    cls: number,
    obj: number,
    bbox: [number, number, number, number],
    kps: number[] = new Array<number>(10).fill(0),
    width = size,
  ): void {
    const cols = width / stride;
    const i = row * cols + col;
    (outputs[`cls_${stride}`]!.data as Float64Array)[i] = cls;
    (outputs[`obj_${stride}`]!.data as Float64Array)[i] = obj;
    (outputs[`bbox_${stride}`]!.data as Float64Array).set(bbox, i * 4);
    (outputs[`kps_${stride}`]!.data as Float64Array).set(kps, i * 10);
  }

  test('64x64 input has 64, 16 and 4 cells at strides 8, 16, 32', () => {
    assert.deepEqual([...YUNET_STRIDES], [8, 16, 32]);
    const outputs = emptyOutputs();
    assert.equal(outputs['cls_8']!.data.length, 64);
    assert.equal(outputs['cls_16']!.data.length, 16);
    assert.equal(outputs['cls_32']!.data.length, 4);
    assert.deepEqual(decodeYunet(outputs, size, size, options), []);
  });

  test('decodes one confident anchor: box, landmarks and score', () => {
    const outputs = emptyOutputs();
    const kps = [0.1, 0.2, 0.9, 0.2, 0.5, 0.6, 0.2, 1.0, 0.8, 1.0];
    put(outputs, 8, 2, 3, 0.9, 0.9, [0.5, 0.5, Math.log(4), Math.log(4)], kps);
    const found = decodeYunet(outputs, size, size, options);
    assert.equal(found.length, 1);
    const d = found[0]!;
    close(d.score, Math.sqrt(0.9 * 0.9), 'score');
    close(d.score, 0.9, 'score', 1e-12);
    // centre ((3 + 0.5)·8, (2 + 0.5)·8) = (28, 20), w = h = 4·8 = 32
    close(d.box.w, 32, 'w');
    close(d.box.h, 32, 'h');
    close(d.box.x + d.box.w / 2, 28, 'cx');
    close(d.box.y + d.box.h / 2, 20, 'cy');
    close(d.box.x, 12, 'x');
    close(d.box.y, 4, 'y');
    const expected = [
      [(3 + 0.1) * 8, (2 + 0.2) * 8],
      [(3 + 0.9) * 8, (2 + 0.2) * 8],
      [(3 + 0.5) * 8, (2 + 0.6) * 8],
      [(3 + 0.2) * 8, (2 + 1.0) * 8],
      [(3 + 0.8) * 8, (2 + 1.0) * 8],
    ];
    assert.equal(d.landmarks.length, 5);
    d.landmarks.forEach((p, k) => {
      close(p[0], expected[k]![0]!, `landmark ${k} x`);
      close(p[1], expected[k]![1]!, `landmark ${k} y`);
    });
    assert.deepEqual(
      d.landmarks[0].map((v) => Math.round(v * 1000) / 1000),
      [24.8, 17.6],
    );
  });

  test('score is sqrt(cls · obj) with both clamped to 0..1', () => {
    const outputs = emptyOutputs();
    put(outputs, 8, 0, 0, 0.64, 0.81, [0.5, 0.5, 0, 0]);
    // cls above 1 is clamped: sqrt(1 · 0.49) = 0.7 (unclamped it would be sqrt(0.735))
    put(outputs, 8, 7, 7, 1.5, 0.49, [0.5, 0.5, 0, 0]);
    const found = decodeYunet(outputs, size, size, options);
    assert.equal(found.length, 2);
    close(found[0]!.score, 0.72, 'first score');
    close(found[1]!.score, 0.7, 'second score');
    close(found[1]!.box.x, 7 * 8 + 4 - 4, 'second x');
  });

  test('width and height come from their own offsets', () => {
    const outputs = emptyOutputs();
    // w = e^ln2 · 8 = 16, h = e^ln3 · 8 = 24, centre (12, 12)
    put(outputs, 8, 1, 1, 0.9, 0.9, [0.5, 0.5, Math.log(2), Math.log(3)]);
    const [d] = decodeYunet(outputs, size, size, options);
    assert.ok(d);
    close(d.box.w, 16, 'w');
    close(d.box.h, 24, 'h');
    close(d.box.x, 4, 'x');
    close(d.box.y, 0, 'y');
  });

  test('a non-square input is read row by row with width/stride columns', () => {
    // 96x64: 12 columns x 8 rows at stride 8
    const outputs = emptyOutputs(96, 64);
    assert.equal(outputs['cls_8']!.data.length, 96);
    put(outputs, 8, 2, 3, 0.9, 0.9, [0.5, 0.5, Math.log(4), Math.log(4)], undefined, 96); // index 2·12 + 3 = 27
    put(outputs, 32, 1, 2, 0.8, 0.8, [0.5, 0.5, 0, 0], undefined, 96); // index 1·3 + 2 = 5
    const found = decodeYunet(outputs, 96, 64, options);
    assert.equal(found.length, 2);
    close(found[0]!.box.x + found[0]!.box.w / 2, 28, 'cx');
    close(found[0]!.box.y + found[0]!.box.h / 2, 20, 'cy');
    close(found[1]!.box.x + found[1]!.box.w / 2, 80, 'cx at stride 32');
    close(found[1]!.box.y + found[1]!.box.h / 2, 48, 'cy at stride 32');

    // 64x96: 8 columns x 12 rows; an anchor in the last row is still read
    const tall = emptyOutputs(64, 96);
    put(tall, 8, 11, 1, 0.9, 0.9, [0.5, 0.5, 0, 0], undefined, 64); // index 11·8 + 1 = 89
    const [last, ...rest] = decodeYunet(tall, 64, 96, options);
    assert.equal(rest.length, 0);
    close(last!.box.x + last!.box.w / 2, 12, 'cx, tall');
    close(last!.box.y + last!.box.h / 2, 92, 'cy, tall');
  });

  test('anchors at strides 16 and 32 use their own grid', () => {
    const outputs = emptyOutputs();
    put(outputs, 16, 1, 2, 0.8, 0.8, [0.5, 0.5, 0, 0]); // centre (40, 24), 16x16
    put(outputs, 32, 1, 0, 0.7, 0.7, [0.25, 0.75, Math.log(0.5), Math.log(0.5)]); // centre (8, 56), 16x16
    const found = decodeYunet(outputs, size, size, options);
    assert.equal(found.length, 2);
    const [a, b] = found;
    close(a!.score, 0.8, 'a score');
    close(a!.box.x, 32, 'a x');
    close(a!.box.y, 16, 'a y');
    close(a!.box.w, 16, 'a w');
    close(b!.score, 0.7, 'b score');
    close(b!.box.x, 0, 'b x');
    close(b!.box.y, 48, 'b y');
    close(b!.box.w, 16, 'b w');
    close(b!.box.h, 16, 'b h');
    // zero keypoint offsets land on the cell's top-left corner
    close(b!.landmarks[2][0], 0, 'b nose x');
    close(b!.landmarks[2][1], 32, 'b nose y');
  });

  test('an anchor below minScore is dropped', () => {
    const outputs = emptyOutputs();
    put(outputs, 8, 2, 3, 0.5, 0.5, [0.5, 0.5, Math.log(4), Math.log(4)]); // score 0.5
    assert.deepEqual(decodeYunet(outputs, size, size, options), []);
    assert.equal(decodeYunet(outputs, size, size, { minScore: 0.5, nmsIou: 0.3 }).length, 1);
  });

  test('two overlapping anchors are reduced to the better one by NMS', () => {
    const outputs = emptyOutputs();
    put(outputs, 8, 2, 3, 0.8, 0.8, [0.5, 0.5, Math.log(4), Math.log(4)]); // centre (28, 20)
    put(outputs, 8, 2, 4, 0.9, 0.9, [0.5, 0.5, Math.log(4), Math.log(4)]); // centre (36, 20), IoU 0.6
    const found = decodeYunet(outputs, size, size, options);
    assert.equal(found.length, 1);
    close(found[0]!.score, 0.9, 'kept score');
    close(found[0]!.box.x, 20, 'kept x');
    // with a looser IoU limit both survive
    assert.equal(decodeYunet(outputs, size, size, { minScore: 0.6, nmsIou: 0.7 }).length, 2);
  });
});
