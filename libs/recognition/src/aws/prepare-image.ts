import sharp from 'sharp';
import { AppError, ErrorCode } from '@facewatch/core';
import { classifySharpError, inspectImage, type ImageFormat } from '@facewatch/face';

/** Rekognition's input limit as bytes (API reference, "Image": JPEG or PNG, 5 MB; 15 MB from S3, which images within 5 MB also meet). */
export const REKOGNITION_MAX_BYTES = 5 * 1024 * 1024;
/** Long sides tried, in turn, when an image must be re-encoded to fit. */
const encodeSteps = [
  { side: 4096, quality: 90 },
  { side: 2048, quality: 85 },
  { side: 1280, quality: 80 },
] as const;

export interface PreparedImage {
  /** JPEG or PNG within Rekognition's byte limit: the original when it already fits, else a re-encoded JPEG. */
  bytes: Uint8Array;
  /** Whether `bytes` is the caller's image unchanged (JPEG/PNG, upright, small enough). */
  unchanged: boolean;
  /** The original's format and size (after EXIF rotation): results are reported in these pixels. */
  format: ImageFormat;
  width: number;
  height: number;
  /**
   * The upright pixels (decoded once, on first use) to cut faces from: the same aspect ratio as
   * `bytes`, so Rekognition's ratios apply; at most 4096 px on the long side.
   */
  pixels(): Promise<RawImage>;
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * Makes an image acceptable to Rekognition without losing the caller's coordinates: facewatch's
 * own limits (bytes, pixels, formats) are checked first from the header; WebP/GIF/TIFF, EXIF-rotated
 * images (Rekognition does not rotate them) and images over 5 MB are re-encoded as upright JPEG
 * (shrunk if needed, never enlarged). Rekognition answers in ratios of the image it was sent, and
 * re-encoding keeps the aspect ratio, so ratios × the original's size are the original's pixels.
 * An image that still does not fit is IMAGE_TOO_LARGE. It is decoded at most once.
 */
export async function prepareForRekognition(bytes: Uint8Array, limits: { maxBytes: number; maxPixels: number }, maxSendBytes = REKOGNITION_MAX_BYTES): Promise<PreparedImage> {
  const header = await inspectImage(bytes, limits);
  const base = { format: header.format, width: header.width, height: header.height };
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decoded: Promise<RawImage> | undefined;
  const pixels = () => (decoded ??= decodeRaw(input, limits.maxPixels));
  if ((header.format === 'jpeg' || header.format === 'png') && header.orientation === 1 && bytes.length <= maxSendBytes) {
    return { ...base, bytes, unchanged: true, pixels };
  }
  const raw = await pixels();
  for (const step of encodeSteps) {
    let out: Buffer;
    try {
      out = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
        .resize({ width: step.side, height: step.side, fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: step.quality })
        .toBuffer();
    } catch (err) {
      throw classifySharpError(err);
    }
    if (out.length <= maxSendBytes) return { ...base, bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), unchanged: false, pixels };
  }
  throw new AppError(ErrorCode.IMAGE_TOO_LARGE, `the image does not fit AWS Rekognition's ${maxSendBytes} byte limit even as a ${encodeSteps.at(-1)!.side} px JPEG`, {
    details: { bytes: bytes.length, maxBytes: maxSendBytes },
  });
}

/** A region of an image, in its pixels, re-encoded as JPEG (for searching one face at a time). */
export async function cropJpeg(image: RawImage, region: { left: number; top: number; width: number; height: number }, scale: number): Promise<Uint8Array> {
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).extract(region);
  if (scale > 1) pipeline = pipeline.resize({ width: Math.round(region.width * scale), height: Math.round(region.height * scale), kernel: 'lanczos3' });
  const out = await pipeline.flatten({ background: '#ffffff' }).jpeg({ quality: 92 }).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Upright raw pixels, shrunk to the largest side Rekognition is sent. */
async function decodeRaw(input: Buffer, maxPixels: number): Promise<RawImage> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate()
      .resize({ width: encodeSteps[0].side, height: encodeSteps[0].side, fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err) {
    throw classifySharpError(err);
  }
}
