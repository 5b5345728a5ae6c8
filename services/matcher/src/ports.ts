import type { ImageReference } from '@facewatch/core';

/** Gets the bytes of an image reference (server path or URL) within the deployment's policy. */
export type ImageResolver = (reference: Exclude<ImageReference, { kind: 'bytes' }>) => Promise<Uint8Array>;

/** Keeps a copy of each processed image; returns the path to report (processed_images_output/...). */
export interface ImageCopyStore {
  save(imageId: string, bytes: Uint8Array, format: string): Promise<string>;
}
