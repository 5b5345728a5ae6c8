import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { join } from 'node:path';
import { ErrorCode, projectRoot } from '@facewatch/core';
import { generateOpenApi, httpStatus, openApiFile } from '@facewatch/api';

test('the committed docs/openapi.json is what the routes generate (run `npm run openapi` after changing a route)', () => {
  const committed = JSON.parse(readFileSync(openApiFile(), 'utf8'));
  assert.deepEqual(committed, generateOpenApi());
});

test('the document keeps the replaced server paths', () => {
  const paths = Object.keys((generateOpenApi() as { paths: Record<string, unknown> }).paths).sort();
  for (const p of [
    '/api/v1/',
    '/api/v1/ready',
    '/api/v1/detect/detect-face',
    '/api/v1/process/process-images',
    '/api/v1/processed-images',
    '/api/v1/processed-images/{id}',
    '/api/v1/blacklist',
    '/api/v1/blacklist/{id}',
    '/api/v1/blacklist/{id}/images',
    '/api/v1/represent',
    '/api/v1/verify',
  ]) {
    assert.ok(paths.includes(p), `${p} missing from ${paths.join(', ')}`);
  }
});

test('every error code has an HTTP status, 4xx for what the caller can fix', () => {
  assert.deepEqual(Object.keys(httpStatus).sort(), Object.values(ErrorCode).sort());
  for (const code of ['INVALID_ARGUMENT', 'IMAGE_CORRUPT', 'PERSON_NOT_FOUND', 'PATH_NOT_ALLOWED', 'URL_NOT_ALLOWED', 'IMAGE_TOO_LARGE'] as const) {
    assert.ok(httpStatus[code] >= 400 && httpStatus[code] < 500, code);
  }
  assert.deepEqual(
    [httpStatus.PERSON_NOT_FOUND, httpStatus.IMAGE_CORRUPT, httpStatus.IMAGE_TOO_LARGE, httpStatus.PATH_NOT_ALLOWED, httpStatus.URL_NOT_ALLOWED],
    [404, 422, 413, 403, 400],
  );
});

test('docs/errors.md lists each code under the status the API answers it with (the one table)', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'errors.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## HTTP statuses'));
  const documented: Record<string, number> = {};
  for (const m of section.matchAll(/^\| (\d{3}) \| (.+) \|$/gm)) for (const code of m[2]!.matchAll(/`([A-Z_]+)`/g)) documented[code[1]!] = Number(m[1]);
  assert.deepEqual(documented, { ...httpStatus });
});

test('the new edge codes: 400 malformed multipart, 403 scope, 405, 409, 429, 503 bus, 504 reply timeout', () => {
  assert.deepEqual(
    [
      httpStatus.MULTIPART_INVALID,
      httpStatus.FORBIDDEN,
      httpStatus.METHOD_NOT_ALLOWED,
      httpStatus.INSUFFICIENT_DATA,
      httpStatus.RATE_LIMITED,
      httpStatus.BUS_UNAVAILABLE,
      httpStatus.RESULT_TIMEOUT,
    ],
    [400, 403, 405, 409, 429, 503, 504],
  );
});
