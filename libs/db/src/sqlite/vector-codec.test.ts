import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeFloat32, encodeFloat32, float32View } from './vector-codec.js';

describe('float32 vector codec', () => {
  test('writes float32 little-endian bytes', () => {
    assert.deepEqual([...encodeFloat32(new Float32Array([1, -2]))], [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  });

  test('reads back the same values, also from an unaligned slice', () => {
    const vector = new Float32Array([0.1, -0.2, 3.5e-8, 1e30]);
    assert.deepEqual(decodeFloat32(encodeFloat32(vector), 'test'), vector);
    const unaligned = Buffer.concat([Buffer.from([9]), encodeFloat32(vector)]).subarray(1);
    assert.equal(float32View(unaligned), undefined);
    assert.deepEqual(decodeFloat32(unaligned, 'test'), vector);
  });

  test('a length that is not a whole number of floats is INTERNAL', () => {
    assert.throws(() => decodeFloat32(Buffer.alloc(6), 'blob'), { name: 'AppError', code: 'INTERNAL' });
  });
});
