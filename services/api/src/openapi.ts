import { z } from 'zod';
import type { RouteSpec } from './route.js';

/** Koa path `/blacklist/:id` → OpenAPI `/api/v1/blacklist/{id}`. */
export const openApiPath = (path: string): string => `/api/v1${path.replace(/:(\w+)/g, '{$1}')}`.replace(/\/$/, '/') || '/api/v1/';

/**
 * The OpenAPI 3.1 document, generated from the route declarations (their zod schemas are the
 * request validators too). Named schemas (`.meta({ id })`) land in components.schemas.
 */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): Record<string, unknown> {
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
      ...(r.isPublic ? { security: [] } : {}),
    };
    const parameters: unknown[] = [];
    for (const [name, description] of Object.entries(r.params ?? {})) parameters.push({ name, in: 'path', required: true, description, schema: { type: 'string' } });
    if (r.query) {
      const q = toSchema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
      }
    }
    if (parameters.length > 0) op['parameters'] = parameters;
    if (r.body) op['requestBody'] = { required: true, content: { 'application/json': { schema: toSchema(r.body, 'input') } } };
    if (r.rawBody) op['requestBody'] = { required: true, description: r.rawBody.description, content: { [r.rawBody.contentType]: { schema: { type: 'string' } } } };
    if (r.multipart) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, f] of Object.entries(r.multipart.fields)) {
        properties[name] = { type: 'string', description: f.description };
        if (f.required) required.push(name);
      }
      for (const [name, f] of Object.entries(r.multipart.files)) {
        properties[name] = { type: 'array', items: { type: 'string', contentMediaType: 'application/octet-stream' }, description: f.description };
        if (f.required) required.push(name);
      }
      op['requestBody'] = { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties, required } } } };
    }
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? 'application/json']: { schema: toSchema(res.schema, 'output') } } } : {}),
        ...(!res.schema && res.contentType ? { content: { [res.contentType]: { schema: { type: 'string' } } } } : {}),
      };
    }
    op['responses'] = responses;
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
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'Required when the server sets API_KEY.' } },
    },
  };
}
