import { z } from 'zod';
import type { ApiSettings } from './deps.js';
import { ErrorBody, type RouteSpec } from './route.js';

/** Koa path `/blacklist/:id` → OpenAPI `/api/v1/blacklist/{id}`. */
export const openApiPath = (path: string): string => `/api/v1${path.replace(/:(\w+)/g, '{$1}')}`.replace(/\/$/, '/') || '/api/v1/';

/** What the server around the routes does that the document must say. */
export interface OpenApiOptions {
  /** Routes other than the public ones need an API key (401 without, 403 with too small a scope). */
  authRequired: boolean;
  /** Limits the edge applies (upload counts, the rate limit). */
  settings: Pick<ApiSettings, 'maxUploadFiles' | 'rateLimit'>;
}

/**
 * The OpenAPI 3.1 document, generated from the route declarations (their zod schemas are the
 * request validators too). Named schemas (`.meta({ id })`) land in components.schemas. Besides each
 * route's own answers it lists those of the edge: 401/403 (API key and scope), 429 (rate limit on
 * changing requests), 422 (a body, query or path parameter that fails its schema), 413 (a body
 * over its limit) and 400 (a multipart body that cannot be parsed).
 */
export function buildOpenApi(routes: readonly RouteSpec[], version: string, options: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): unknown => {
    const generated = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' });
    // named schemas come out as $defs with local refs; they belong in components.schemas
    const json = JSON.parse(JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/')) as Record<string, unknown>;
    const defs = (json['$defs'] ?? {}) as Record<string, unknown>;
    for (const [id, def] of Object.entries(defs)) schemas[id] = def;
    delete json['$defs'];
    delete json['$schema'];
    return json;
  };
  for (const r of routes) {
    const path = openApiPath(r.path === '/' ? '/' : r.path);
    const op: Record<string, unknown> = {
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      operationId: `${r.method}_${r.path.replace(/[/:{}-]+/g, '_').replace(/^_|_$/g, '') || 'root'}`,
      ...(r.isPublic && options.authRequired ? { security: [] } : {}),
    };
    const parameters: unknown[] = [];
    for (const [name, p] of Object.entries(r.params ?? {})) {
      parameters.push(
        typeof p === 'string'
          ? { name, in: 'path', required: true, description: p, schema: { type: 'string' } }
          : { name, in: 'path', required: true, description: p.description, schema: toSchema(p.schema, 'input') },
      );
    }
    if (r.query) {
      const q = toSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (parameters.length > 0) op['parameters'] = parameters;
    // an empty body reads as {}: a body whose fields are all optional may be left out
    if (r.body) op['requestBody'] = { required: !r.body.safeParse({}).success, content: { 'application/json': { schema: toSchema(r.body, 'input') } } };
    if (r.rawBody) op['requestBody'] = { required: true, description: r.rawBody.description, content: { [r.rawBody.contentType]: { schema: { type: 'string' } } } };
    if (r.multipart) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, f] of Object.entries(r.multipart.fields)) {
        properties[name] = { ...(f.schema ? (toSchema(f.schema, 'input') as object) : { type: 'string' }), description: f.description };
        if (f.required) required.push(name);
      }
      for (const [name, f] of Object.entries(r.multipart.files)) {
        properties[name] = {
          type: 'array',
          items: { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream' },
          ...(f.required ? { minItems: 1 } : {}),
          maxItems: options.settings.maxUploadFiles,
          description: f.description,
        };
        if (f.required) required.push(name);
      }
      // every part is a field or file the route takes: others are refused
      op['requestBody'] = { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties, required, additionalProperties: false } } } };
    }
    const edge: Record<number, { description: string; headers?: Record<string, unknown> }> = {};
    if (r.multipart) edge[400] = { description: 'the multipart body cannot be parsed (MULTIPART_INVALID)' };
    if (!r.isPublic && options.authRequired) {
      edge[401] = { description: 'missing or wrong API key (UNAUTHORIZED)' };
      edge[403] = { description: "the API key's scope does not cover this route (FORBIDDEN)" };
    }
    if (r.body || r.multipart) edge[413] = { description: 'the body is over its size limit (PAYLOAD_TOO_LARGE)' };
    if (r.body || r.multipart || r.query || Object.values(r.params ?? {}).some((p) => typeof p !== 'string')) edge[422] = { description: 'invalid request (INVALID_ARGUMENT)' };
    if (r.method !== 'get' && options.settings.rateLimit.perMinute > 0) {
      edge[429] = {
        description: 'too many changing requests (RATE_LIMITED)',
        headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer', minimum: 1 } } },
      };
    }
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(edge)) {
      if (r.responses[Number(status)]) continue;
      responses[status] = {
        description: res.description,
        content: { 'application/json': { schema: toSchema(ErrorBody, 'output') } },
        ...(res.headers ? { headers: res.headers } : {}),
      };
    }
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? 'application/json']: { schema: toSchema(res.schema, 'output') } } } : {}),
        ...(!res.schema && res.contentType ? { content: { [res.contentType]: { schema: { type: 'string' } } } } : {}),
      };
    }
    op['responses'] = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'facewatch API',
      version,
      description: 'Face watch-list service: detect faces, match them against the blacklist, manage the blacklist, read results and live alerts.',
    },
    servers: [{ url: '/' }],
    ...(options.authRequired ? { security: [{ apiKey: [] }, { bearer: [] }] } : {}),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description:
            'Required when the server sets API_KEY or API_KEYS (this document is the one of a server that does). Keys have a scope: read (GET), write (changes), admin (webhooks, calibration).',
        },
        bearer: { type: 'http', scheme: 'bearer', description: 'The same key as a bearer token (Authorization: Bearer <key>).' },
      },
    },
  };
}
