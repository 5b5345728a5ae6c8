import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byteArraySource, checkImageCompleteness, tailBytes, type ByteSource, type Completeness } from './image-completeness.js';

// Small: the format checks on hand-built byte arrays, no I/O.

const check = (...parts: (number[] | Uint8Array | string)[]): Promise<Completeness> => checkImageCompleteness(byteArraySource(bytes(...parts)));

function bytes(...parts: (number[] | Uint8Array | string)[]): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

const fill = (n: number, value = 0x5a): Uint8Array => new Uint8Array(n).fill(value);
const complete = (format: string | undefined) => ({ isComplete: true, format });
const incomplete = (format: string | undefined, missing: string) => ({ isComplete: false, format, missing });

describe('JPEG', () => {
  const soi = [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0')];
  const eoi = [0xff, 0xd9];
  const missing = 'the end-of-image marker (FF D9)';

  test('complete with its end-of-image marker last', async () => {
    assert.deepEqual(await check(soi, fill(500), eoi), complete('jpeg'));
  });

  test('padding after the marker is allowed: 0x00 and 0xFF', async () => {
    assert.deepEqual(await check(soi, fill(500), eoi, fill(4096, 0x00)), complete('jpeg'));
    assert.deepEqual(await check(soi, fill(500), eoi, fill(3, 0xff)), complete('jpeg'));
    assert.deepEqual(await check(soi, fill(500), eoi, [0x00, 0xff, 0x00]), complete('jpeg'));
  });

  test('incomplete without the marker: cut in the data, in the marker, or followed by other bytes', async () => {
    assert.deepEqual(await check(soi, fill(500)), incomplete('jpeg', missing));
    assert.deepEqual(await check(soi, fill(500), [0xff]), incomplete('jpeg', missing));
    assert.deepEqual(await check(soi, fill(500), [0xd9]), incomplete('jpeg', missing));
    assert.deepEqual(await check(soi, fill(500), eoi, 'trailer'), incomplete('jpeg', missing));
    // a preallocated file still being filled: zeros after the data written so far
    assert.deepEqual(await check(soi, fill(500), fill(1000, 0x00)), incomplete('jpeg', missing));
  });

  test('padding longer than the tail that is read counts as missing the marker', async () => {
    assert.deepEqual(await check(soi, fill(500), eoi, fill(tailBytes, 0x00)), incomplete('jpeg', missing));
  });
});

describe('PNG', () => {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const iend = [0x00, 0x00, 0x00, 0x00, ...Buffer.from('IEND'), 0xae, 0x42, 0x60, 0x82];
  const missing = 'the IEND chunk';

  test('complete with the IEND chunk last, also before zero padding', async () => {
    assert.deepEqual(await check(signature, fill(300), iend), complete('png'));
    assert.deepEqual(await check(signature, fill(300), iend, fill(512, 0)), complete('png'));
  });

  test('incomplete without the whole IEND chunk', async () => {
    assert.deepEqual(await check(signature, fill(300)), incomplete('png', missing));
    assert.deepEqual(await check(signature, fill(300), iend.slice(0, 11)), incomplete('png', missing));
    // IEND with a wrong CRC is not the end
    assert.deepEqual(await check(signature, fill(300), [...iend.slice(0, 11), 0x83]), incomplete('png', missing));
  });
});

describe('GIF', () => {
  const header = 'GIF89a';
  const missing = 'the trailer (0x3B)';

  test('complete with a block terminator and the trailer last', async () => {
    assert.deepEqual(await check(header, fill(100), [0x00, 0x3b]), complete('gif'));
    assert.deepEqual(await check('GIF87a', fill(100), [0x00, 0x3b], fill(10, 0)), complete('gif'));
  });

  test('incomplete without the trailer', async () => {
    assert.deepEqual(await check(header, fill(100), [0x00]), incomplete('gif', missing));
    // 0x3B inside image data, not after a block terminator
    assert.deepEqual(await check(header, fill(100), [0x3b]), incomplete('gif', missing));
  });
});

describe('WebP', () => {
  const webp = (riffSize: number, body: number) => bytes('RIFF', u32le(riffSize), 'WEBP', fill(body));

  test('complete when the file holds every byte its RIFF size announces (more is allowed)', async () => {
    assert.deepEqual(await checkImageCompleteness(byteArraySource(webp(4 + 100, 100))), complete('webp'));
    assert.deepEqual(await checkImageCompleteness(byteArraySource(bytes(webp(4 + 100, 100), fill(7)))), complete('webp'));
  });

  test('incomplete when the RIFF size runs past the end', async () => {
    assert.deepEqual(await checkImageCompleteness(byteArraySource(webp(4 + 100, 60))), incomplete('webp', '40 of the 112 bytes its RIFF header announces'));
  });

  test('other RIFF files (WAVE) get no verdict', async () => {
    assert.deepEqual(await check('RIFF', u32le(4), 'WAVE'), complete(undefined));
  });
});

describe('TIFF', () => {
  /** A classic TIFF: header, then the image data, then the directory (as libtiff writes it). */
  function tiff(order: 'II' | 'MM', strips: number[], options: { ifdOffset?: number } = {}): Uint8Array {
    const le = order === 'II';
    const u16 = (n: number) => (le ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff]);
    const u32 = (n: number) => (le ? u32le(n) : [...u32le(n)].reverse());
    const data = strips.map((n, i) => fill(n, i + 1));
    const dataStart = 8;
    const offsets = strips.map((_, i) => dataStart + strips.slice(0, i).reduce((a, b) => a + b, 0));
    const dataEnd = dataStart + strips.reduce((a, b) => a + b, 0);
    // arrays of more than one LONG lie outside the directory: right after the data
    const arrays = strips.length > 1 ? [offsets, strips] : [];
    const arraysAt = dataEnd;
    const ifd = arraysAt + arrays.length * strips.length * 4;
    const entry = (tag: number, values: number[], k: number) =>
      values.length === 1 ? [...u16(tag), ...u16(4), ...u32(1), ...u32(values[0]!)] : [...u16(tag), ...u16(4), ...u32(values.length), ...u32(arraysAt + k * values.length * 4)];
    return bytes(
      order,
      u16(42),
      u32(options.ifdOffset ?? ifd),
      ...data,
      ...arrays.flatMap((values) => values.map((v) => new Uint8Array(u32(v)))),
      u16(3),
      entry(256, [16], 0), // ImageWidth
      entry(273, offsets, 0), // StripOffsets
      entry(279, strips, 1), // StripByteCounts
      u32(0),
    );
  }

  test('complete when its directory and every strip lie inside the file', async () => {
    for (const order of ['II', 'MM'] as const) {
      assert.deepEqual(await checkImageCompleteness(byteArraySource(tiff(order, [256]))), complete('tiff'), order);
      assert.deepEqual(await checkImageCompleteness(byteArraySource(tiff(order, [100, 100, 50]))), complete('tiff'), order);
    }
  });

  test('incomplete while the header points to no directory yet, or the directory lies past the end', async () => {
    const whole = tiff('II', [256]);
    assert.deepEqual(
      await checkImageCompleteness(byteArraySource(tiff('II', [256], { ifdOffset: 0 }))),
      incomplete('tiff', 'its image directory (the header does not point to one yet)'),
    );
    const ifd = 8 + 256;
    assert.deepEqual(await checkImageCompleteness(byteArraySource(whole.subarray(0, ifd))), incomplete('tiff', `its image directory (at byte ${ifd})`));
    assert.deepEqual(
      await checkImageCompleteness(byteArraySource(whole.subarray(0, whole.length - 1))),
      incomplete('tiff', `the end of its image directory (at byte ${whole.length})`),
    );
  });

  test('incomplete when a strip ends past the end (directory written first)', async () => {
    // header → directory at 8 → data: a file cut in its data
    const strip = 300;
    const dir = 8;
    const dataAt = dir + 2 + 2 * 12 + 4;
    const entry = (tag: number, value: number) => [...u16le(tag), ...u16le(4), ...u32le(1), ...u32le(value)];
    const file = bytes('II', u16le(42), u32le(dir), u16le(2), entry(273, dataAt), entry(279, strip), u32le(0), fill(strip));
    assert.deepEqual(await checkImageCompleteness(byteArraySource(file)), complete('tiff'));
    assert.deepEqual(await checkImageCompleteness(byteArraySource(file.subarray(0, file.length - 10))), incomplete('tiff', `image data up to byte ${dataAt + strip}`));
  });

  test('BigTIFF gets no verdict', async () => {
    assert.deepEqual(await check('II', [43, 0, 8, 0, 0, 0], fill(20)), complete(undefined));
  });
});

describe('any file', () => {
  test('too short to tell its format: incomplete when it is the start of a checked signature', async () => {
    const missing = 'the rest of the file signature';
    for (const start of [[0xff], [0xff, 0xd8], [0x89, 0x50, 0x4e], Buffer.from('GIF'), Buffer.from('RIFF'), Buffer.from('RIFF\x10\0\0\0WE', 'latin1'), Buffer.from('MM')]) {
      assert.deepEqual(await check(start), incomplete(undefined, missing), Buffer.from(start).toString('hex'));
    }
  });

  test('other formats and text get no verdict: stability alone decides', async () => {
    for (const content of ['good', 'a complete photo', 'BAD bytes, no image', '<svg/>', 'G', 'Hello']) {
      const expected = content === 'G' ? incomplete(undefined, 'the rest of the file signature') : complete(undefined);
      assert.deepEqual(await check(content), expected, content);
    }
  });

  test('reads only the head and the tail of a large file', async () => {
    const file = bytes([0xff, 0xd8, 0xff, 0xe1], fill(4 * 1024 * 1024), [0xff, 0xd9]);
    let read = 0;
    const counting: ByteSource = {
      size: file.length,
      read: async (offset, length) => {
        const part = file.subarray(offset, offset + length);
        read += part.length;
        return part;
      },
    };
    assert.deepEqual(await checkImageCompleteness(counting), complete('jpeg'));
    assert.ok(read <= 16 + tailBytes, `read ${read} bytes`);
  });
});

function u32le(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u16le(n: number): Uint8Array {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
