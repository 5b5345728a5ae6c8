import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { isAppError } from '@facewatch/core';
import type { FacePool } from '@facewatch/face';
import { expressionImages, identityImages } from '@facewatch/face/testing';
import { startTestPool } from './helpers.js';

let pool: FacePool;
before(async () => {
  pool = await startTestPool();
});
after(() => pool.close());

async function codeOf(bytes: Uint8Array): Promise<string> {
  try {
    await pool.analyse(bytes, { embed: true });
  } catch (err) {
    assert.ok(isAppError(err), `expected an AppError, got ${String(err)}`);
    return err.code;
  }
  return 'NO_ERROR';
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
/** A PNG whose header claims width x height grey pixels; the data is a few all-zero rows. */
function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc((width + 1) * 4));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', rows), chunk('IEND', Buffer.alloc(0))]);
}

test('zero bytes → IMAGE_EMPTY', async () => {
  assert.equal(await codeOf(new Uint8Array(0)), 'IMAGE_EMPTY');
});

test('random bytes → IMAGE_UNSUPPORTED_FORMAT', async () => {
  assert.equal(await codeOf(randomBytes(4096)), 'IMAGE_UNSUPPORTED_FORMAT');
});

test('a text file → IMAGE_UNSUPPORTED_FORMAT', async () => {
  assert.equal(await codeOf(Buffer.from('name,reason\nalice,test\n'.repeat(50))), 'IMAGE_UNSUPPORTED_FORMAT');
});

test('an SVG (text that sharp could render) → IMAGE_UNSUPPORTED_FORMAT', async () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>';
  assert.equal(await codeOf(Buffer.from(svg)), 'IMAGE_UNSUPPORTED_FORMAT');
});

test('a truncated JPEG → IMAGE_CORRUPT', async () => {
  const jpeg = readFileSync(expressionImages()[0]!);
  assert.equal(await codeOf(jpeg.subarray(0, Math.floor(jpeg.length / 2))), 'IMAGE_CORRUPT');
});

test('a 20000x20000 PNG (decompression bomb) → IMAGE_TOO_LARGE, refused from its header', async () => {
  const bomb = bombPng(20000, 20000);
  assert.ok(bomb.length < 10_000);
  const started = process.hrtime.bigint();
  assert.equal(await codeOf(bomb), 'IMAGE_TOO_LARGE');
  // refusing from the header must not have decoded 400 MP; generous bound, not a benchmark
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 5000);
});

test('more bytes than MAX_IMAGE_BYTES → IMAGE_TOO_LARGE', async () => {
  const small = await startTestPool({ MAX_IMAGE_BYTES: '2048', FACE_WORKERS: '1' });
  try {
    await assert.rejects(small.analyse(readFileSync(expressionImages()[0]!), { embed: false }), { code: 'IMAGE_TOO_LARGE' });
  } finally {
    await small.close();
  }
});

test('the pool keeps serving after bad input, also when it arrives mixed with good images', async () => {
  const good = readFileSync(identityImages()[0]!.path);
  const inputs = [good, new Uint8Array(0), randomBytes(1000), good, bombPng(30000, 30000), good];
  const settled = await Promise.allSettled(inputs.map((b) => pool.analyse(b, { embed: true })));
  assert.deepEqual(
    settled.map((s) => (s.status === 'fulfilled' ? s.value.faces.length : (s.reason as { code: string }).code)),
    [1, 'IMAGE_EMPTY', 'IMAGE_UNSUPPORTED_FORMAT', 1, 'IMAGE_TOO_LARGE', 1],
  );
});

test('grey, alpha, EXIF-rotated and other formats decode to the same face', async () => {
  const sharp = (await import('sharp')).default;
  const source = readFileSync(expressionImages().find((p) => p.endsWith('happy.jpg'))!);
  const base = await pool.analyse(source, { embed: true });
  assert.equal(base.faces.length, 1);
  const variants: Record<string, Buffer> = {
    png: await sharp(source).png().toBuffer(),
    webp: await sharp(source).webp({ quality: 95 }).toBuffer(),
    gif: await sharp(source).gif().toBuffer(),
    tiff: await sharp(source).tiff().toBuffer(),
    alpha: await sharp(source).ensureAlpha(0.9).png().toBuffer(),
    grey: await sharp(source).greyscale().jpeg().toBuffer(),
    // stored rotated 90° clockwise... with EXIF orientation 8 telling viewers to rotate it back
    rotated: await sharp(source).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 95 }).toBuffer(),
  };
  for (const [name, bytes] of Object.entries(variants)) {
    const r = await pool.analyse(bytes, { embed: true });
    assert.equal(r.faces.length, 1, `${name}: ${r.faces.length} faces`);
    assert.equal(r.width, base.width, `${name}: width`);
    assert.equal(r.height, base.height, `${name}: height`);
    const b = base.faces[0]!,
      f = r.faces[0]!;
    assert.ok(Math.abs(f.box.x - b.box.x) < 0.1 * b.box.w && Math.abs(f.box.y - b.box.y) < 0.1 * b.box.h, `${name}: box moved`);
    let dot = 0;
    for (let i = 0; i < 512; i++) dot += f.embedding![i]! * b.embedding![i]!;
    assert.ok(dot > 0.8, `${name}: cosine similarity to the original ${dot.toFixed(3)}`);
  }
});
