// Turning a client's image string (server path, URL, data URI, base64) into bytes, safely.
export { AddressRange, classifyAddress, isPublicAddress } from './ip-address.js';
export { imageSourcePolicy, isAllowListed, type ImageSourcePolicy } from './policy.js';
export { decodeBase64Image, maxEncodedLength } from './base64-image.js';
export { readAllowedPath, type PathImage } from './path-source.js';
export { checkUrlAllowed, displayUrl, fetchImageUrl, guardedPost, type FetchImageOptions, type PostResult, type UrlImage } from './url-source.js';
export { classifyImageInput, resolveImageInput, type ImageInputForm, type ImageInputKind, type ResolvedImage } from './resolve-image-input.js';
export { imageReferenceResolver } from './reference-resolver.js';
