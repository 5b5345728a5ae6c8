import { AppError, ErrorCode } from '@facewatch/core';
import { decodeBase64Image, looksLikeBase64 } from './base64-image.js';
import { readAllowedPath } from './path-source.js';
import type { ImageSourcePolicy } from './policy.js';
import { displayUrl, fetchImageUrl, type FetchImageOptions } from './url-source.js';

export type ImageInputKind = 'path' | 'url' | 'base64';

export interface ResolvedImage {
  bytes: Uint8Array;
  kind: ImageInputKind;
  /**
   * What the image is called in results and logs: the path as given, the URL (credentials
   * removed), or `data:<media type>;base64` / `base64` for inline images.
   */
  identifier: string;
}

/** The form of a client's image string: `data-uri` and `base64` both resolve as kind `base64`. */
export type ImageInputForm = 'data-uri' | 'url' | 'base64' | 'path';

/**
 * Classifies an image string the way the deepface API did: a `data:` URI; anything starting with
 * a URL scheme of two or more letters (`http://…`, also `ftp:` and `file:`, which are then
 * refused); a bare base64 string (64+ characters of the base64 alphabet, whitespace ignored);
 * otherwise a server path. A path of 64+ base64-alphabet characters (no dot, no extension) would
 * read as base64: write it with its extension or a leading `./`.
 */
export function classifyImageInput(input: string): ImageInputForm {
  const text = input.trimStart();
  if (/^data:/i.test(text)) return 'data-uri';
  if (/^[a-z][a-z0-9+.-]+:/i.test(text)) return 'url';
  if (looksLikeBase64(text)) return 'base64';
  return 'path';
}

/**
 * Resolves a client's image string into bytes under `policy`: paths through
 * {@link readAllowedPath}, URLs through {@link fetchImageUrl}, data URIs and base64 through
 * {@link decodeBase64Image}. Every refusal is an AppError (PATH_NOT_ALLOWED, URL_NOT_ALLOWED,
 * URL_FETCH_FAILED, PAYLOAD_TOO_LARGE, IMAGE_TOO_LARGE, IMAGE_NOT_FOUND, INVALID_ARGUMENT).
 */
export async function resolveImageInput(input: string, policy: ImageSourcePolicy, options: FetchImageOptions = {}): Promise<ResolvedImage> {
  if (input.trim() === '') throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the image is empty: give a path, a URL or base64 data');
  switch (classifyImageInput(input)) {
    case 'data-uri': {
      const bytes = decodeBase64Image(input, policy.maxBytes);
      const header = input.trimStart();
      return { bytes, kind: 'base64', identifier: header.slice(0, header.indexOf(',')).toLowerCase() };
    }
    case 'base64':
      return { bytes: decodeBase64Image(input, policy.maxBytes), kind: 'base64', identifier: 'base64' };
    case 'url': {
      const { bytes } = await fetchImageUrl(input, policy, options);
      return { bytes, kind: 'url', identifier: displayUrl(input.trim()) };
    }
    case 'path': {
      const { bytes } = await readAllowedPath(input.trim(), policy);
      return { bytes, kind: 'path', identifier: input.trim() };
    }
  }
}
