import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, toAppError, Topic, type ImageReference } from '@facewatch/core';
import { classifyImageInput } from '@facewatch/image-source';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { ProcessedImage, ProcessedPage, ProcessedQuery, ProcessRequest } from '../schemas.js';

export const processRoutes = (deps: ApiDeps) => [
  route({
    method: 'post',
    path: '/process/process-images',
    tag: 'process',
    summary: 'Match every face of each image against the watch-list; one result per image, in order.',
    description:
      'Each image goes through the same path as the watched folder and Kafka: an `image received` event, the matcher, a stored result ' +
      'and `face matched` alerts. An image that fails gets its own `error`; the others are unaffected.',
    body: ProcessRequest,
    responses: {
      200: { description: 'one result per input image', schema: z.array(ProcessedImage) },
      413: { description: 'too many images or body too large', schema: ErrorBody },
      422: { description: 'invalid options', schema: ErrorBody },
      503: { description: 'the bus or the matchers cannot take the images now (BUS_UNAVAILABLE, POOL_BUSY); retry', schema: ErrorBody },
      504: { description: 'an image got no result within RESULT_TIMEOUT_MS (RESULT_TIMEOUT); it may still be processed', schema: ErrorBody },
    },
    audit: {
      action: 'image.search',
      target: 'result',
      details: (ctx) => ({
        endpoint: 'process-images',
        images: Array.isArray(ctx.body) ? ctx.body.length : null,
        results: Array.isArray(ctx.body) ? (ctx.body as { id: string }[]).map((r) => r.id) : null,
      }),
    },
    handler: async (ctx, { body }) => {
      if (body.images.length > deps.settings.maxImagesPerRequest) {
        throw new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `at most ${deps.settings.maxImagesPerRequest} images per request`);
      }
      const options = { detector_backend: body.detector_backend, model_name: body.model_name, distance_metric: body.distance_metric, threshold: body.threshold };
      const resolved = deps.backend.resolveOptions(options); // refuse bad options for the whole request, before any work
      ctx.body = await Promise.all(
        body.images.map(async (input) => {
          const eventId = randomUUID();
          const form = classifyImageInput(input);
          const image: ImageReference = form === 'path' ? { kind: 'path', path: input } : form === 'url' ? { kind: 'url', url: input } : { kind: 'base64', data: input };
          const kind = image.kind;
          const reply = deps.replies.expect(eventId, deps.settings.resultTimeoutMs);
          await deps.bus.publish(Topic.imageReceived, eventId, {
            event_id: eventId,
            source: 'api',
            identifier: kind === 'base64' ? `base64:${input.length}` : input,
            image,
            options,
            received_at: new Date().toISOString(),
          });
          const done = await reply;
          const stored = done.image_id ? await deps.store.processed.get(done.image_id) : undefined;
          if (stored) return stored;
          // not stored (database failure): answer with the error, still one item per input
          return {
            id: done.image_id,
            image_path_or_identifier: done.identifier,
            faces: [],
            error: done.error ?? toAppError(new Error('result missing')).toJSON(),
            source: 'api',
            matched: false,
            stored_image_path: null,
            width: null,
            height: null,
            model_name: resolved.model,
            detector_backend: resolved.detector,
            distance_metric: resolved.metric,
            processed_at: done.processed_at,
          };
        }),
      );
    },
  }),
  route({
    method: 'get',
    path: '/processed-images',
    tag: 'processed-images',
    summary: 'Processed images, newest first, with filters.',
    query: ProcessedQuery,
    responses: { 200: { description: 'a page of results', schema: ProcessedPage }, 422: { description: 'invalid query', schema: ErrorBody } },
    handler: async (ctx, { query }) => {
      ctx.body = await deps.store.processed.list({
        offset: query.offset,
        limit: query.limit,
        ...(query.matched === undefined ? {} : { matched: query.matched }),
        ...(query.person_id === undefined ? {} : { personId: query.person_id }),
        ...(query.since === undefined ? {} : { since: new Date(query.since).toISOString() }),
      });
    },
  }),
  route({
    method: 'get',
    path: '/processed-images/:id',
    tag: 'processed-images',
    summary: 'One processed image with its faces and matches.',
    params: { id: 'Result id.' },
    responses: { 200: { description: 'the result', schema: ProcessedImage }, 404: { description: 'unknown id', schema: ErrorBody } },
    handler: async (ctx) => {
      const id = ctx.params['id'] as string;
      const result = await deps.store.processed.get(id);
      if (!result) throw new AppError(ErrorCode.RESULT_NOT_FOUND, `no processed image with id ${id}`);
      ctx.body = result;
    },
  }),
];
