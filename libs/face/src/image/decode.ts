import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { AppError, ErrorCode } from '@facewatch/core';
import { isSrgbProfile } from './icc.js';

/** Formats facewatch accepts. SVG, PDF and the rest are refused: they are not photos and SVG can reference files. */
export const SupportedFormats = ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const;
export type ImageFormat = (typeof SupportedFormats)[number];

export interface DecodeLimits {
  maxBytes: number;
  maxPixels: number;
  /** Long side of the decoded working image; never enlarged. */
  maxSidePx: number;
}

/** A decoded image: packed RGB, 8 bits per channel, EXIF orientation applied. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
  /** Size of the original image after EXIF rotation; coordinates reported to callers use it. */
  originalWidth: number;
  originalHeight: number;
  /** originalWidth / width (≥ 1): multiply working-image coordinates by it to get original ones. */
  scale: number;
}

/**
 * Decodes untrusted bytes. Refuses empty input, over-size input (bytes, then pixels from the
 * header, before any decoding, so a decompression bomb costs nothing), formats other than
 * {@link SupportedFormats} and corrupt or truncated data, each with its own AppError code.
 * Large images are shrunk on load to `maxSidePx` (JPEG shrink-on-load makes this cheap).
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  return decodeInspected(await inspect(bytes, limits), limits.maxSidePx);
}

/** The image's header, read and checked (sizes after EXIF rotation), with what decoding it needs. */
export interface InspectedImage {
  format: ImageFormat;
  width: number;
  height: number;
  orientation: number;
  /** @internal the bytes as sharp takes them, and sharp's input options (limits). */
  input: Buffer;
  /** @internal */
  options: SharpOptions;
}

/** The checks of {@link decodeImage} (empty, bytes, format, pixels) without decoding. */
export async function inspectForDecode(bytes: Uint8Array, limits: Pick<DecodeLimits, 'maxBytes' | 'maxPixels'>): Promise<InspectedImage> {
  return inspect(bytes, limits);
}

/**
 * Decodes an inspected image with its long side shrunk to `maxSidePx` (never enlarged); JPEG
 * shrink-on-load makes large reductions cheap. What {@link decodeImage} does after its checks.
 */
export async function decodeInspected(inspected: InspectedImage, maxSidePx: number): Promise<DecodedImage> {
  const { input, options, format, width: originalWidth, height: originalHeight } = inspected;
  try {
    const { data, info } = await workingPipeline(input, options, maxSidePx).raw().toBuffer({ resolveWithObject: true });
    const rgb = info.channels === 3 ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : toRgb(data, info.channels);
    return {
      data: rgb,
      width: info.width,
      height: info.height,
      format,
      originalWidth,
      originalHeight,
      scale: originalWidth / info.width,
    };
  } catch (err) {
    throw classifySharpError(err);
  }
}

/** A region of a decoded image: its pixels, and where it lies in the image it was cut from. */
export interface RgbRegion extends RgbImage {
  /** Left and top of the region in that image's pixels. */
  left: number;
  top: number;
}

/**
 * A region of the image resized to `size` (fill: both sides as given, e.g. {@link workingSize}),
 * decoded alone: libvips reads the JPEG rows above the region and decodes and resizes only what
 * the region needs, instead of the whole image at that size. The region is clipped to the image.
 */
export async function decodeRegion(inspected: InspectedImage, size: { width: number; height: number }, region: { x: number; y: number; w: number; h: number }): Promise<RgbRegion> {
  const { input, options } = inspected;
  const left = Math.max(0, Math.floor(region.x)),
    top = Math.max(0, Math.floor(region.y));
  const right = Math.min(size.width, Math.ceil(region.x + region.w)),
    bottom = Math.min(size.height, Math.ceil(region.y + region.h));
  if (right <= left || bottom <= top) return { data: new Uint8Array(0), width: 0, height: 0, left, top };
  try {
    const { data, info } = await sharp(input, options)
      .rotate()
      .resize({ width: size.width, height: size.height, fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .extract({ left, top, width: right - left, height: bottom - top })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const rgb = info.channels === 3 ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : toRgb(data, info.channels);
    return { data: rgb, width: info.width, height: info.height, left, top };
  } catch (err) {
    throw classifySharpError(err);
  }
}

/** A width × height image with its long side shrunk to `maxSidePx` (never enlarged), the short side rounded. */
export function workingSize(width: number, height: number, maxSidePx: number): { width: number; height: number } {
  const scale = Math.min(1, maxSidePx / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** EXIF rotation, shrink to `maxSidePx`, alpha flattened on white, sRGB, 3 channels. */
function workingPipeline(input: Buffer, options: SharpOptions, maxSidePx: number): Sharp {
  return sharp(input, options)
    .rotate()
    .resize({ width: maxSidePx, height: maxSidePx, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha();
}

/** What {@link inspectImage} reads from an image's header. */
export interface ImageHeader {
  format: ImageFormat;
  /** After EXIF rotation. */
  width: number;
  height: number;
  /** EXIF orientation (1: as stored). */
  orientation: number;
}

/**
 * The checks of {@link decodeImage} without decoding: empty, byte limit, format, pixel limit
 * (from the header), with the same error codes. For code that passes images on (the AWS backend).
 */
export async function inspectImage(bytes: Uint8Array, limits: Pick<DecodeLimits, 'maxBytes' | 'maxPixels'>): Promise<ImageHeader> {
  const { format, width, height, orientation } = await inspect(bytes, limits);
  return { format, width, height, orientation };
}

async function inspect(bytes: Uint8Array, limits: Pick<DecodeLimits, 'maxBytes' | 'maxPixels'>) {
  if (bytes.length === 0) throw new AppError(ErrorCode.IMAGE_EMPTY, 'the image is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new AppError(ErrorCode.IMAGE_TOO_LARGE, `the image is ${bytes.length} bytes; the limit is ${limits.maxBytes}`, {
      details: { bytes: bytes.length, maxBytes: limits.maxBytes },
    });
  }
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options: SharpOptions = { limitInputPixels: limits.maxPixels, failOn: 'truncated', sequentialRead: true };

  let meta: Metadata;
  try {
    meta = await sharp(input, options).metadata();
  } catch (err) {
    throw classifySharpError(err);
  }
  const format = meta.format as string | undefined;
  if (!format || !(SupportedFormats as readonly string[]).includes(format)) {
    throw new AppError(ErrorCode.IMAGE_UNSUPPORTED_FORMAT, `unsupported image format ${format ?? 'unknown'}; use ${SupportedFormats.join(', ')}`, {
      details: { format: format ?? null },
    });
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width * height > limits.maxPixels) {
    throw new AppError(ErrorCode.IMAGE_TOO_LARGE, `the image is ${width}x${height} pixels; the limit is ${limits.maxPixels} pixels`, {
      details: { width, height, maxPixels: limits.maxPixels },
    });
  }
  // An embedded sRGB profile is not applied: converting to sRGB from it changes nothing, and the
  // transform (lcms) cost as much as the decode itself (a 1.3 MP JPEG: 30.8 ms against 14.4).
  // Other profiles (Adobe RGB, ProPhoto, Display P3, CMYK) are applied as before.
  if (meta.icc && isSrgbProfile(meta.icc)) options.ignoreIcc = true;
  const orientation = meta.orientation ?? 1;
  const rotated = orientation >= 5;
  return { input, options, format: format as ImageFormat, width: rotated ? height : width, height: rotated ? width : height, orientation };
}

function toRgb(data: Uint8Array, channels: number): Uint8Array {
  const pixels = data.length / channels;
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const g = data[i * channels] ?? 0;
    out[i * 3] = g;
    out[i * 3 + 1] = channels >= 3 ? (data[i * channels + 1] ?? g) : g;
    out[i * 3 + 2] = channels >= 3 ? (data[i * channels + 2] ?? g) : g;
  }
  return out;
}

/** Resizes a packed RGB image (sharp, off the JS thread); used to make the detector's input. */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  const { data, info } = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize({ width, height, fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

const JPEG_QUALITY = 85;
const rawInput = (image: RgbImage) =>
  sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } });
/** A fresh Uint8Array with its own buffer (transferable between threads; sharp may hand out pooled slices). */
const own = (b: Buffer): Uint8Array => new Uint8Array(b);

/** Packed RGB to JPEG. */
export async function rgbToJpeg(image: RgbImage): Promise<Uint8Array> {
  return own(await rawInput(image).jpeg({ quality: JPEG_QUALITY }).toBuffer());
}

/** A region of a packed RGB image as JPEG, shrunk (never enlarged) to `maxSide` on its long side. */
export async function cropJpeg(image: RgbImage, region: { x: number; y: number; w: number; h: number }, maxSide: number): Promise<Uint8Array> {
  const left = Math.max(0, Math.floor(region.x)),
    top = Math.max(0, Math.floor(region.y));
  const width = Math.max(1, Math.min(image.width - left, Math.ceil(region.w))),
    height = Math.max(1, Math.min(image.height - top, Math.ceil(region.h)));
  return own(
    await rawInput(image)
      .extract({ left, top, width, height })
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: JPEG_QUALITY })
      .toBuffer(),
  );
}

export function classifySharpError(err: unknown): AppError {
  const message = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(message)) {
    return new AppError(ErrorCode.IMAGE_UNSUPPORTED_FORMAT, `not an image in a supported format (${SupportedFormats.join(', ')})`, { cause: err });
  }
  if (/pixel limit/i.test(message)) {
    return new AppError(ErrorCode.IMAGE_TOO_LARGE, 'the image has more pixels than allowed', { cause: err });
  }
  return new AppError(ErrorCode.IMAGE_CORRUPT, `the image could not be decoded: ${message.split('\n')[0]}`, { cause: err });
}
