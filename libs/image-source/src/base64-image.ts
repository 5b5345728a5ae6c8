import { AppError, ErrorCode } from '@facewatch/core';

const dataUriHeader = /^data:([^,]*),/i;
const whitespace = /[\t\n\f\r ]+/g;
// standard and URL-safe alphabets; padding only at the end
const base64Body = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Largest encoded length (whitespace removed) whose decoding can stay within `maxBytes`. */
export function maxEncodedLength(maxBytes: number): number {
  return Math.ceil((maxBytes * 4) / 3) + 4;
}

/**
 * Decodes a `data:image/...;base64,` URI or a bare base64 string (whitespace ignored). The
 * encoded length is checked before anything is decoded or copied: beyond
 * {@link maxEncodedLength} it is PAYLOAD_TOO_LARGE; characters outside the base64 alphabet, a
 * data URI that is not a base64 image, or an impossible length are INVALID_ARGUMENT; nothing
 * after decoding is IMAGE_EMPTY.
 */
export function decodeBase64Image(input: string, maxBytes: number): Uint8Array {
  let payload = input;
  const header = dataUriHeader.exec(input.trimStart());
  if (header) {
    const params = (header[1] ?? '').split(';').map((p) => p.trim().toLowerCase());
    if (!params[0]?.startsWith('image/') || !params.slice(1).includes('base64')) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, 'a data URI must be data:image/<type>;base64,<data>', {
        details: { mediaType: params[0] ?? '' },
      });
    }
    payload = input.trimStart().slice(header[0].length);
  }
  const limit = maxEncodedLength(maxBytes);
  // whitespace may wrap lines (MIME wraps at 76), but twice the limit is no image of allowed size
  if (payload.length > 2 * limit) throw tooLarge(payload.length, limit);
  const compact = payload.replace(whitespace, '');
  if (compact.length > limit) throw tooLarge(compact.length, limit);
  if (!base64Body.test(compact) || compact.length % 4 === 1) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the image is not valid base64');
  }
  // node's base64 decoder takes both alphabets
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length === 0) throw new AppError(ErrorCode.IMAGE_EMPTY, 'the base64 image has no bytes');
  if (bytes.length > maxBytes) {
    throw new AppError(ErrorCode.IMAGE_TOO_LARGE, `the image has ${bytes.length} bytes, more than the limit of ${maxBytes}`, {
      details: { bytes: bytes.length, maxBytes },
    });
  }
  // small results share node's buffer pool; give the caller bytes that own their memory
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? new Uint8Array(bytes.buffer) : new Uint8Array(bytes);
}

/** True for strings {@link resolveImageInput} takes as bare base64 rather than a server path. */
export function looksLikeBase64(input: string): boolean {
  // long enough that no sane path matches; short images (a 1x1 GIF) still need a data URI
  if (input.length < 64) return false;
  const compact = input.replace(whitespace, '');
  return compact.length >= 64 && base64Body.test(compact) && compact.length % 4 !== 1;
}

function tooLarge(length: number, limit: number): AppError {
  return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `the base64 image has ${length} characters, more than the limit of ${limit}`, {
    details: { characters: length, maxCharacters: limit },
  });
}
