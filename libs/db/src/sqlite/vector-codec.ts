import { endianness } from 'node:os';
import { AppError, ErrorCode } from '@facewatch/core';

const littleEndianHost = endianness() === 'LE';

/** Float32 little-endian bytes of a vector, the BLOB layout of `embedding` and `vector` columns. */
export function encodeFloat32(vector: Float32Array): Buffer {
  if (littleEndianHost) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const out = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i]!, i * 4);
  return out;
}

/** A fresh Float32Array (own, aligned buffer) from float32 little-endian bytes. */
export function decodeFloat32(bytes: Uint8Array, what: string): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new AppError(ErrorCode.INTERNAL, `${what}: ${bytes.byteLength} bytes is not a whole number of float32 values`);
  }
  const out = new Float32Array(bytes.byteLength / 4);
  if (littleEndianHost) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/** The bytes seen as float32 values without a copy, when the host is little-endian and they are aligned. */
export function float32View(bytes: Uint8Array): Float32Array | undefined {
  return littleEndianHost && bytes.byteOffset % 4 === 0 && bytes.byteLength % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : undefined;
}
