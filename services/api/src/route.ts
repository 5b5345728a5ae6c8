import type { Context } from 'koa';
import { z } from 'zod';
import { AppError, ErrorCode, type ApiKeyScope } from '@facewatch/core';

/**
 * A route declared once: its schemas validate requests at run time and produce the OpenAPI
 * document, so the two cannot drift apart.
 */
export interface RouteSpec<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Koa-router path under /api/v1 (`:id` parameters); also served with a trailing slash. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  body?: B;
  /** multipart/form-data fields: name → description; `files` names the file fields. */
  multipart?: { fields: Record<string, { description: string; required: boolean; schema?: z.ZodType }>; files: Record<string, { description: string; required: boolean }> };
  query?: Q;
  /** Path parameters: a description, or a description and a schema the value must meet (else 422). */
  params?: Record<string, string | { description: string; schema: z.ZodType }>;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** Open without an API key (health, readiness). */
  isPublic?: boolean;
  /** A body the handler reads itself (a stream, e.g. NDJSON): documented, not parsed as JSON. */
  rawBody?: { contentType: string; description: string };
  /**
   * Recorded in the audit log when the request succeeds: the action, the kind of target (its id
   * from the path's `:id`, else the answer's `id`), and details from the request and answer.
   */
  audit?: { action: string; target?: string; details?: (ctx: Context, input: { body: unknown; query: unknown }) => Record<string, unknown> | null };
  /** The API key scope the route needs; default: read for GET, write for the others. */
  scope?: ApiKeyScope;
  handler: (ctx: Context, input: { body: z.output<B>; query: z.output<Q> }) => Promise<void>;
}

/** The scope a route needs: its own, else read for GET and write for what changes things. */
export const routeScope = (r: Pick<RouteSpec, 'method' | 'scope'>): ApiKeyScope => r.scope ?? (r.method === 'get' ? 'read' : 'write');

export function route<B extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType>(spec: RouteSpec<B, Q>): RouteSpec<B, Q> {
  return spec;
}

/** Validates with a schema; every problem is listed in one INVALID_ARGUMENT error. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
  throw new AppError(ErrorCode.INVALID_ARGUMENT, `invalid request: ${problems.join('; ')}`, { details: { problems } });
}

export const ErrorBody = z
  .object({
    code: z.string().describe('Stable error code (docs/errors.md).'),
    message: z.string(),
    request_id: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Error' });
