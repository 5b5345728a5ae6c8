import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ErrorCode } from '@facewatch/core';
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
