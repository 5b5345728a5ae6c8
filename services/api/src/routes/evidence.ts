import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AppError, ErrorCode } from '@facewatch/core';
import { cropJpeg, decodeImage } from '@facewatch/face';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { wholeNumber } from '../schemas.js';

const jpeg = { description: 'a JPEG image', contentType: 'image/jpeg' };
const notFound = { description: 'no such result, face, person or image, or nothing kept for it', schema: ErrorBody };
const contentTypes: Record<string, string> = {
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  tif: 'image/tiff',
};

function missing(what: string): AppError {
  return new AppError(ErrorCode.EVIDENCE_NOT_FOUND, `${what} is not kept`);
}

/**
 * Evidence for people deciding on an alert: the crops of every processed face (the aligned face
 * the embedding saw, and the face in its surroundings), the stored copy of the processed image,
 * and the reference image with its face. Stable URLs (alert JSON carries them), behind the API
 * key; they go with the result (retention) or with the person (deleting them).
 */
export const evidenceRoutes = (deps: ApiDeps) => {
  const faceCrop = (kind: 'aligned' | 'context', summary: string) =>
    route({
      method: 'get',
      path: `/processed-images/:id/faces/:index/${kind}.jpg`,
      tag: 'evidence',
      summary,
      params: { id: 'Result id.', index: { description: 'face_index.', schema: wholeNumber(0) } },
      responses: { 200: jpeg, 404: notFound },
      handler: async (ctx) => {
        const id = ctx.params['id'] as string;
        const index = Number(ctx.params['index']);
        if (!Number.isSafeInteger(index) || index < 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the face index must be a non-negative integer');
        const crop = await deps.store.evidence.get(id, index, kind);
        if (!crop) throw missing(`a ${kind} crop of face ${index} of result ${id}`);
        ctx.type = crop.content_type;
        ctx.set('Cache-Control', 'private, max-age=3600');
        ctx.body = Buffer.from(crop.bytes.buffer, crop.bytes.byteOffset, crop.bytes.byteLength);
      },
    });
  return [
    faceCrop('aligned', 'The aligned face (112×112, as the embedding saw it, in colour).'),
    faceCrop('context', 'The face with its surroundings (the box widened by half its size on every side).'),
    route({
      method: 'get',
      path: '/processed-images/:id/image',
      tag: 'evidence',
      summary: 'The stored copy of the processed image (processed_images_output/, on the machine that serves the API).',
      params: { id: 'Result id.' },
      responses: { 200: { description: 'the image in its own format', contentType: 'image/*' }, 404: notFound },
      handler: async (ctx) => {
        const id = ctx.params['id'] as string;
        const result = await deps.store.processed.get(id);
        if (!result) throw new AppError(ErrorCode.RESULT_NOT_FOUND, `no processed image with id ${id}`);
        if (!result.stored_image_path) throw missing(`a copy of result ${id}`);
        let bytes: Buffer;
        try {
          // stored_image_path names a file in processed_images_output/; only its base name is used
          bytes = await readFile(join(deps.processedDir, basename(result.stored_image_path)));
        } catch {
          throw missing(`the copy of result ${id} on this machine`);
        }
        ctx.type = contentTypes[result.stored_image_path.split('.').pop()!.toLowerCase()] ?? 'application/octet-stream';
        ctx.set('Cache-Control', 'private, max-age=3600');
        ctx.body = bytes;
      },
    }),
    route({
      method: 'get',
      path: '/blacklist/:id/images/:imageId',
      tag: 'evidence',
      summary: 'A reference image of a watch-list person.',
      params: { id: 'Person id.', imageId: 'Reference image id (reference_image_id).' },
      responses: { 200: { description: 'the image in its own format', contentType: 'image/*' }, 404: notFound },
      handler: async (ctx) => {
        const ref = await deps.watchlist.readReference(ctx.params['id'] as string, ctx.params['imageId'] as string);
        if (!ref) throw missing('that reference image');
        ctx.type = contentTypes[ref.fileName.split('.').pop()!.toLowerCase()] ?? 'application/octet-stream';
        ctx.set('Cache-Control', 'private, max-age=3600');
        ctx.body = Buffer.from(ref.bytes.buffer, ref.bytes.byteOffset, ref.bytes.byteLength);
      },
    }),
    route({
      method: 'get',
      path: '/blacklist/:id/images/:imageId/face.jpg',
      tag: 'evidence',
      summary: 'The face in a reference image (its box widened by half its size on every side), as JPEG.',
      params: { id: 'Person id.', imageId: 'Reference image id (reference_image_id).' },
      responses: { 200: jpeg, 404: notFound },
      handler: async (ctx) => {
        const ref = await deps.watchlist.readReference(ctx.params['id'] as string, ctx.params['imageId'] as string);
        if (!ref?.box) throw missing('that reference face');
        // decoded as the pipeline decodes (EXIF-rotated, shrunk to DECODE_MAX_SIDE): the box is in original pixels
        const image = await decodeImage(ref.bytes, deps.face.decode);
        const margin = Math.max(ref.box.w, ref.box.h) / 2;
        const region = {
          x: (ref.box.x - margin) / image.scale,
          y: (ref.box.y - margin) / image.scale,
          w: (ref.box.w + 2 * margin) / image.scale,
          h: (ref.box.h + 2 * margin) / image.scale,
        };
        ctx.type = 'image/jpeg';
        ctx.set('Cache-Control', 'private, max-age=3600');
        const bytes = await cropJpeg(image, region, 256);
        ctx.body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
    }),
  ];
};
