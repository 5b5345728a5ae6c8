import { type ImageReference } from '@facewatch/core';
import { decodeBase64Image } from './base64-image.js';
import { readAllowedPath } from './path-source.js';
import type { ImageSourcePolicy } from './policy.js';
import { fetchImageUrl } from './url-source.js';

/** Gets the bytes an `image received` event refers to (server path, URL or base64), within the policy. */
export function imageReferenceResolver(policy: ImageSourcePolicy): (reference: Exclude<ImageReference, { kind: 'bytes' }>) => Promise<Uint8Array> {
  return async (reference) => {
    if (reference.kind === 'path') return (await readAllowedPath(reference.path, policy)).bytes;
    if (reference.kind === 'url') return (await fetchImageUrl(reference.url, policy)).bytes;
    return decodeBase64Image(reference.data, policy.maxBytes);
  };
}
