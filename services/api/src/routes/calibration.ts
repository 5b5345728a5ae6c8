import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { calibrateWatchlist, currentDecisionParams } from '../calibration/calibrate-watchlist.js';
import { ErrorBody, route } from '../route.js';

const ThresholdRow = z.object({ people: z.number().int(), match: z.number(), review: z.number(), genuine_alerted: z.number().nullable() });
const Params = z.record(z.string(), z.unknown()).describe('A decision parameters file (docs/face-thresholds.md).');

export const CalibrationRequest = z
  .object({
    target_fmr: z.number().gt(0).max(0.5).optional().describe('Share of strangers that may be alerted (default: the one in use).'),
    review_fmr: z.number().gt(0).max(0.9).optional().describe('Share of strangers that may land in review (default: the one in use).'),
    k: z.number().int().min(1).max(50).optional().describe("How many of a person's closest references a score averages (default: the one in use)."),
    margin: z.number().min(0).max(2).optional().describe('Score a match must lead the runner-up by (default: the one in use).'),
  })
  .strict()
  .meta({ id: 'CalibrationRequest' });

/** The decision rule: what is in use, and a fit from the enrolled watch-list. */
export const calibrationRoutes = (deps: ApiDeps) => [
  route({
    method: 'get',
    path: '/calibration',
    tag: 'decisions',
    summary: 'The decision parameters in use, and the match and review thresholds they give for the current watch-list and other sizes.',
    responses: {
      200: {
        description: 'parameters, target rates, gates, thresholds',
        schema: z
          .object({
            params: Params,
            rates: z.object({ match: z.number(), review: z.number() }),
            min_margin: z.number(),
            gates: z.record(z.string(), z.number()),
            people: z.number().int(),
            thresholds: z.object({ match: z.number(), review: z.number() }),
            by_size: z.array(ThresholdRow),
          })
          .meta({ id: 'DecisionSettings' }),
      },
    },
    handler: async (ctx) => {
      ctx.body = await currentDecisionParams(deps.store, deps.decisions);
    },
  }),
  route({
    method: 'post',
    path: '/calibration',
    tag: 'decisions',
    summary:
      'Fit decision parameters from the enrolled people, with the faces reviewers rejected as strangers (as `facewatch calibrate`). Changes nothing: save `params` as a file and point DECISION_PARAMS_FILE at it.',
    scope: 'admin',
    body: CalibrationRequest,
    responses: {
      200: {
        description: 'the fitted parameters, the fit check, warnings about thin data, thresholds by watch-list size',
        schema: z
          .object({
            params: Params,
            check: z.array(z.object({ rate: z.number(), threshold: z.number(), observed: z.number() })),
            warnings: z.array(z.string()),
            by_size: z.array(ThresholdRow),
          })
          .meta({ id: 'Calibration' }),
      },
      409: { description: 'fewer than two enrolled people with references (INSUFFICIENT_DATA)', schema: ErrorBody },
      422: { description: 'an invalid request', schema: ErrorBody },
      501: { description: 'the configured backend keeps no embeddings (aws_rekognition)', schema: ErrorBody },
    },
    audit: { action: 'calibration.fit', details: (ctx) => ({ fitted: ((ctx.body as { params?: { fitted?: unknown } }).params?.fitted as Record<string, unknown>) ?? null }) },
    handler: async (ctx, { body }) => {
      ctx.body = await calibrateWatchlist(deps.store, deps.backend, deps.decisions, { targetFmr: body.target_fmr, reviewFmr: body.review_fmr, k: body.k, margin: body.margin });
    },
  }),
];
