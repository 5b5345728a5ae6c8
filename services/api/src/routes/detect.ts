import { resolveMatchOptions, AppError, ErrorCode } from '@facewatch/core';
import { defaultMaxDistance, distance, toFacialArea } from '@facewatch/face';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { ErrorBody, route } from '../route.js';
import { DetectedFace, DetectRequest, RepresentRequest, RepresentResponse, VerifyRequest, VerifyResponse } from '../schemas.js';

const errors = {
  400: { description: 'URL not allowed', schema: ErrorBody },
  403: { description: 'server path outside the allowed roots', schema: ErrorBody },
  413: { description: 'image too large', schema: ErrorBody },
  422: { description: 'invalid request or image', schema: ErrorBody },
};

/** Stateless face endpoints: detect, and deepface's represent and verify. */
export const detectRoutes = (deps: ApiDeps) => {
  const analyse = async (input: string, detector: string | undefined, embed: boolean) => {
    const options = resolveMatchOptions({ detector_backend: detector }, deps.face);
    const { bytes } = await deps.resolveImage(input);
    return { options, result: await deps.faces.analyse(bytes, { detector: options.detector, embed }) };
  };
  return [
    route({
      method: 'post',
      path: '/detect/detect-face',
      tag: 'detect',
      summary: 'Detect every face in one image.',
      body: DetectRequest,
      responses: { 200: { description: 'faces, most confident first (empty when none)', schema: z.array(DetectedFace) }, ...errors },
      handler: async (ctx, { body }) => {
        const { result } = await analyse(body.image, body.detector_backend, false);
        ctx.body = result.faces.map((f) => ({ facial_area: toFacialArea(f), confidence: Number(f.score.toFixed(4)) }));
      },
    }),
    route({
      method: 'post',
      path: '/represent',
      tag: 'deepface',
      summary: 'Embedding of every face (deepface represent).',
      body: RepresentRequest,
      responses: { 200: { description: 'one result per face', schema: RepresentResponse }, ...errors },
      handler: async (ctx, { body }) => {
        const { result } = await analyse(body.img, body.detector_backend, true);
        ctx.body = {
          results: result.faces.map((f) => ({
            embedding: Array.from(f.embedding!, (v) => Number(v.toFixed(6))),
            facial_area: toFacialArea(f),
            face_confidence: Number(f.score.toFixed(4)),
          })),
        };
      },
    }),
    route({
      method: 'post',
      path: '/verify',
      tag: 'deepface',
      summary: 'Do two images show the same person? Compares the most confident face of each (deepface verify).',
      body: VerifyRequest,
      responses: { 200: { description: 'verdict', schema: VerifyResponse }, ...errors },
      handler: async (ctx, { body }) => {
        const options = resolveMatchOptions({ detector_backend: body.detector_backend, distance_metric: body.distance_metric, threshold: body.threshold }, deps.face);
        const [a, b] = await Promise.all([analyse(body.img1, body.detector_backend, true), analyse(body.img2, body.detector_backend, true)]);
        const faces = [a.result.faces[0], b.result.faces[0]];
        faces.forEach((f, i) => {
          if (!f) throw new AppError(ErrorCode.NO_FACE, `no face found in img${i + 1}`, { details: { field: `img${i + 1}` } });
        });
        const threshold = options.maxDistance ?? defaultMaxDistance(options.metric);
        const d = distance(options.metric, { embedding: faces[0]!.embedding!, norm: faces[0]!.norm! }, { embedding: faces[1]!.embedding!, norm: faces[1]!.norm! });
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
