import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

// Malformed images, made on the fly from one real photo (nothing binary is committed): truncated,
// bit-flipped, zeroed, with broken magic bytes, with impossible dimensions in their headers, and
// decompression bombs. A seeded generator makes the same corpus on every run.

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
export const imageFormats: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'gif', 'tiff'];

/** mulberry32: a small seeded generator (the corpus must be the same every run). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The photo in each format, `width` pixels wide. */
export async function encodings(photo: string, width: number): Promise<Record<ImageFormat, Buffer>> {
  const base = sharp(photo).resize({ width }).removeAlpha();
  return {
    jpeg: await base.clone().jpeg({ quality: 85 }).toBuffer(),
    png: await base.clone().png().toBuffer(),
    webp: await base.clone().webp({ quality: 80 }).toBuffer(),
    gif: await base.clone().gif().toBuffer(),
    tiff: await base.clone().tiff({ compression: 'lzw' }).toBuffer(),
  };
}

export interface MalformedImage {
  name: string;
  /** truncated, flipped, zeroed, magic, huge, bomb, empty, junk. */
  kind: string;
  format: ImageFormat | 'none';
  bytes: Buffer;
}

/** Cuts: inside the magic bytes, inside the header, and at tenths of the file, up to a byte short. */
export function truncations(format: ImageFormat, bytes: Buffer): MalformedImage[] {
  const cuts = new Set([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100, 200, 400]);
  for (let twentieth = 1; twentieth <= 19; twentieth++) cuts.add(Math.floor((bytes.length * twentieth) / 20));
  for (const short of [1, 2, 8, 64]) cuts.add(bytes.length - short);
  // a PNG cut inside its last chunk (IEND, 12 bytes) or a GIF without its trailer byte still has every pixel
  const trailer = format === 'png' ? 12 : format === 'gif' ? 1 : 0;
  return [...cuts]
    .filter((n) => n > 0 && n < bytes.length)
    .sort((a, b) => a - b)
    .map((n) => ({ name: `${format}-truncated-${n}of${bytes.length}`, kind: n >= bytes.length - trailer ? 'trailer-cut' : 'truncated', format, bytes: bytes.subarray(0, n) }));
}

/** Single bit flips and zeroed or 0xFF-filled runs past the first bytes, at seeded places. */
export function corruptions(format: ImageFormat, bytes: Buffer, random: () => number, flips: number, runs: number): MalformedImage[] {
  const out: MalformedImage[] = [];
  for (let i = 0; i < flips; i++) {
    const at = 8 + Math.floor(random() * (bytes.length - 8));
    const copy = Buffer.from(bytes);
    copy[at] = copy[at]! ^ (1 << Math.floor(random() * 8));
    out.push({ name: `${format}-flip-${i}-at-${at}`, kind: 'flipped', format, bytes: copy });
  }
  for (let i = 0; i < runs; i++) {
    const at = 8 + Math.floor(random() * (bytes.length - 72));
    const copy = Buffer.from(bytes);
    copy.fill(i % 2 === 0 ? 0 : 0xff, at, at + 64);
    out.push({ name: `${format}-${i % 2 === 0 ? 'zeroed' : 'ff'}-${i}-at-${at}`, kind: 'zeroed', format, bytes: copy });
  }
  // the second half before the first: right magic, nonsense after it
  const half = Math.floor(bytes.length / 2);
  out.push({ name: `${format}-halves-swapped`, kind: 'zeroed', format, bytes: Buffer.concat([bytes.subarray(0, 16), bytes.subarray(half), bytes.subarray(16, half)]) });
  return out;
}

/** The first bytes wrong: the format cannot be told. */
export function brokenMagic(format: ImageFormat, bytes: Buffer): MalformedImage[] {
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, 0, 4);
  const shifted = Buffer.concat([Buffer.from([0x00]), bytes]);
  return [
    { name: `${format}-magic-zeroed`, kind: 'magic', format, bytes: zeroed },
    { name: `${format}-magic-shifted`, kind: 'magic', format, bytes: shifted },
  ];
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A valid PNG of `width`×`height` grey pixels, all zero: a few kilobytes for hundreds of
 * megapixels (a decompression bomb). Rows are deflated in one stream without building them all.
 */
export function pngBomb(width: number, height: number, bitDepth: 1 | 8 = 1): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil((width * bitDepth) / 8);
  // at most ~64 MB of zeros go through deflate; beyond that the header alone must refuse it
  const rows = Math.min(height, Math.floor((64 * 1024 * 1024) / rowBytes));
  const idat = deflateSync(Buffer.alloc(rowBytes * rows), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** The real image with the dimensions in its header replaced by huge ones (data unchanged). */
export function hugeDimensions(format: ImageFormat, bytes: Buffer): Buffer | undefined {
  const copy = Buffer.from(bytes);
  switch (format) {
    case 'png': {
      copy.writeUInt32BE(100_000, 16);
      copy.writeUInt32BE(100_000, 20);
      copy.writeUInt32BE(crc32(copy.subarray(12, 29)), 29);
      return copy;
    }
    case 'gif': {
      // the logical screen, and the first image descriptor (after the colour table and any extensions)
      copy.writeUInt16LE(65_535, 6);
      copy.writeUInt16LE(65_535, 8);
      let at = 13 + (copy[10]! & 0x80 ? 3 * 2 ** ((copy[10]! & 7) + 1) : 0);
      while (at < copy.length && copy[at] === 0x21) {
        at += 2;
        while (at < copy.length && copy[at] !== 0) at += copy[at]! + 1;
        at += 1;
      }
      if (copy[at] !== 0x2c) return undefined;
      copy.writeUInt16LE(65_535, at + 5);
      copy.writeUInt16LE(65_535, at + 7);
      return copy;
    }
    case 'jpeg': {
      // the first start-of-frame marker (SOF0..SOF2): height and width follow its length and precision
      for (let i = 2; i < copy.length - 9; i++) {
        if (copy[i] === 0xff && copy[i + 1]! >= 0xc0 && copy[i + 1]! <= 0xc2) {
          copy.writeUInt16BE(65_000, i + 5);
          copy.writeUInt16BE(65_000, i + 7);
          return copy;
        }
      }
      return undefined;
    }
    case 'webp': {
      // a lossy VP8 frame: 14-bit width and height after the start code 9d 01 2a
      const at = copy.indexOf(Buffer.from([0x9d, 0x01, 0x2a]));
      if (at < 0) return undefined;
      copy.writeUInt16LE(16_383, at + 3);
      copy.writeUInt16LE(16_383, at + 5);
      return copy;
    }
    case 'tiff': {
      // ImageWidth (256) and ImageLength (257) in the first directory, little- or big-endian
      const little = copy[0] === 0x49;
      const u16 = (o: number) => (little ? copy.readUInt16LE(o) : copy.readUInt16BE(o));
      const u32 = (o: number) => (little ? copy.readUInt32LE(o) : copy.readUInt32BE(o));
      const ifd = u32(4);
      const entries = u16(ifd);
      for (let e = 0; e < entries; e++) {
        const at = ifd + 2 + e * 12;
        const tag = u16(at);
        if (tag !== 256 && tag !== 257) continue;
        const type = u16(at + 2);
        if (type === 3) {
          if (little) copy.writeUInt16LE(60_000, at + 8);
          else copy.writeUInt16BE(60_000, at + 8);
        } else if (little) copy.writeUInt32LE(600_000, at + 8);
        else copy.writeUInt32BE(600_000, at + 8);
      }
      return copy;
    }
  }
}

/** Bytes of other kinds, some with the name or the first bytes of an image. */
export function junk(random: () => number): MalformedImage[] {
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const text = (name: string, s: string): MalformedImage => ({ name, kind: 'junk', format: 'none', bytes: Buffer.from(s) });
  return [
    ...[1, 7, 64, 1000, 65_536].map((n) => ({ name: `random-${n}`, kind: 'junk', format: 'none' as const, bytes: randomBytes(n) })),
    text('text', 'this is not an image\n'.repeat(20)),
    text('svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'),
    text(
      'svg-entity-bomb',
      `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&c;</text></svg>`,
    ),
    text('html', '<!doctype html><html><body><img src=x onerror=alert(1)></body></html>'),
    text('pdf', '%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'),
    text('json', '{"image": "not really"}'),
    { name: 'jpeg-magic-only', kind: 'junk', format: 'jpeg', bytes: Buffer.from([0xff, 0xd8, 0xff, 0xe0]) },
    { name: 'png-signature-only', kind: 'junk', format: 'png', bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
    { name: 'gif-header-only', kind: 'junk', format: 'gif', bytes: Buffer.from('GIF89a') },
    { name: 'riff-webp-empty', kind: 'junk', format: 'webp', bytes: Buffer.concat([Buffer.from('RIFF'), Buffer.from([4, 0, 0, 0]), Buffer.from('WEBP')]) },
    { name: 'tiff-header-only', kind: 'junk', format: 'tiff', bytes: Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00]) },
    { name: 'tiff-ifd-loop', kind: 'junk', format: 'tiff', bytes: Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00]) },
    { name: 'zeros-4k', kind: 'junk', format: 'none', bytes: Buffer.alloc(4096) },
  ];
}

/** Every malformed image of the corpus (the `photo` in each format, broken every way above). */
export async function malformedImages(photo: string, seed: number): Promise<{ good: Record<ImageFormat, Buffer>; images: MalformedImage[] }> {
  const good = await encodings(photo, 240);
  const random = seeded(seed);
  const images: MalformedImage[] = [{ name: 'empty', kind: 'empty', format: 'none', bytes: Buffer.alloc(0) }];
  for (const format of imageFormats) {
    const bytes = good[format];
    images.push(...truncations(format, bytes), ...corruptions(format, bytes, random, 30, 10), ...brokenMagic(format, bytes));
    const huge = hugeDimensions(format, bytes);
    if (huge) images.push({ name: `${format}-huge-dimensions`, kind: 'huge', format, bytes: huge });
  }
  images.push(
    { name: 'png-bomb-400Mpx', kind: 'bomb', format: 'png', bytes: pngBomb(20_000, 20_000) },
    { name: 'png-bomb-1x100M', kind: 'bomb', format: 'png', bytes: pngBomb(100_000_000, 1) },
    { name: 'png-bomb-25Mpx', kind: 'bomb', format: 'png', bytes: pngBomb(5_000, 5_000, 8) },
    ...junk(random),
  );
  return { good, images };
}
