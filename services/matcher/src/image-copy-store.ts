import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { projectRoot } from '@facewatch/core';
import type { ImageCopyStore } from './ports.js';

const extension: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff' };

/**
 * Copies of processed images in PROCESSED_IMAGES_OUTPUT_DIR, named by result id (so a repeated
 * result rewrites the same file); written to a temporary name, then renamed into place.
 */
export function folderImageCopyStore(dir: string): ImageCopyStore {
  let ready: Promise<unknown> | undefined;
  return {
    async save(imageId, bytes, format) {
      ready ??= mkdir(dir, { recursive: true });
      await ready;
      const name = `${imageId}.${extension[format] ?? 'img'}`;
      const target = join(dir, name);
      const temp = join(dir, `.${name}.${process.pid}.tmp`);
      await writeFile(temp, bytes);
      await rename(temp, target);
      const rel = relative(projectRoot(), target);
      return rel.startsWith('..') ? target : rel;
    },
  };
}
