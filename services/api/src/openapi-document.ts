import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, projectRoot } from '@facewatch/core';
import { apiRoutes, buildOpenApi } from './app.js';
import type { ApiDeps } from './deps.js';

/** Where the committed OpenAPI document lives. */
export const openApiFile = (): string => join(projectRoot(), 'docs', 'openapi.json');

/**
 * The OpenAPI document as the code declares it, for a server with the default settings and API
 * keys (the one a server without keys serves leaves the keys out). Route declarations need their
 * dependencies only when handling requests, so inert ones do here.
 */
export function generateOpenApi(): Record<string, unknown> {
  const settings = loadConfig({}).api;
  const inert = { settings } as unknown as ApiDeps;
  const version = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return buildOpenApi(apiRoutes(inert), version, { authRequired: true, settings });
}
