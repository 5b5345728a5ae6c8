import { AppError, ErrorCode } from '@facewatch/core';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { DetectedFace, DetectRequest, RepresentRequest, RepresentResponse, VerifyRequest, VerifyResponse } from '../schemas.js';

const errors = {
  400: { description: 'URL not allowed', schema: ErrorBody },
  403: { description: 'server path outside the allowed roots', schema: ErrorBody },
  413: { description: 'image too large', schema: ErrorBody },
  422: { description: 'invalid request or image', schema: ErrorBody },
  501: { description: 'not offered by the configured face backend (UNSUPPORTED_BY_BACKEND)', schema: ErrorBody },
  503: { description: 'the inference queue is full or the backend is unavailable (POOL_BUSY, BACKEND_UNAVAILABLE); retry', schema: ErrorBody },
};

/** Stateless face endpoints: detect, and deepface's represent and verify. */
export const detectRoutes = (deps: ApiDeps) => {
  return [
    route({
      method: 'post',
      path: '/detect/detect-face',
      tag: 'detect',
      summary: 'Detect every face in one image.',
      body: DetectRequest,
      responses: { 200: { description: 'faces, most confident first (empty when none)', schema: z.array(DetectedFace) }, ...errors },
      audit: { action: 'image.search', details: () => ({ endpoint: 'detect-face' }) },
      handler: async (ctx, { body }) => {
        const options = deps.backend.resolveOptions({ detector_backend: body.detector_backend });
        const { bytes } = await deps.resolveImage(body.image);
        const result = await deps.backend.detect(bytes, options);
        ctx.body = result.faces.map((f) => ({ facial_area: f.facial_area, confidence: f.confidence }));
      },
    }),
    route({
      method: 'post',
      path: '/represent',
      tag: 'deepface',
      summary: 'Embedding of every face (deepface represent).',
      body: RepresentRequest,
      responses: { 200: { description: 'one result per face', schema: RepresentResponse }, ...errors },
      audit: { action: 'image.search', details: () => ({ endpoint: 'represent' }) },
      handler: async (ctx, { body }) => {
        const backend = deps.backend;
        // embeddings exist only with a backend that exposes them (local); Rekognition keeps its own
        if (!backend.embed) {
          throw new AppError(ErrorCode.UNSUPPORTED_BY_BACKEND, `${backend.kind} does not expose face embeddings; represent needs FACE_PROCESSING_BACKEND=local`);
        }
        const options = backend.resolveOptions({ detector_backend: body.detector_backend });
        const { bytes } = await deps.resolveImage(body.img);
        const result = await backend.embed(bytes, options);
        ctx.body = {
          results: result.faces.map((f) => ({
            embedding: Array.from(f.embedding, (v) => Number(v.toFixed(6))),
            facial_area: f.facial_area,
            face_confidence: f.confidence,
          })),
        };
      },
    }),
    route({
      method: 'post',
      path: '/verify',
      tag: 'deepface',
      summary:
        'Do two images show the same person? Compares the most confident face of each (deepface verify); with aws_rekognition, the largest face of img1 with the best-matching face of img2 (CompareFaces).',
      body: VerifyRequest,
      responses: { 200: { description: 'verdict', schema: VerifyResponse }, ...errors },
      audit: { action: 'image.search', details: () => ({ endpoint: 'verify' }) },
      handler: async (ctx, { body }) => {
        const options = deps.backend.resolveOptions({ detector_backend: body.detector_backend, distance_metric: body.distance_metric, threshold: body.threshold });
        const [a, b] = await Promise.all([deps.resolveImage(body.img1), deps.resolveImage(body.img2)]);
        const { distance: d } = await deps.backend.compare(a.bytes, b.bytes, options);
        const threshold = options.maxDistance;
        ctx.body = {
          verified: d <= threshold,
          distance: Number(d.toFixed(6)),
          threshold,
          distance_metric: options.metric,
          model: options.model,
          detector_backend: options.detector,
        };
      },
    }),
  ];
};
