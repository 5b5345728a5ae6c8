import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configVariables, ErrorCode, projectRoot } from '@facewatch/core';

// docs/errors.md and docs/configuration.md are the operator's reference: they must list exactly
// what the code has.

test('docs/errors.md lists every error code, and no other', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, Object.values(ErrorCode).sort());
});

test('docs/configuration.md documents every environment variable the config reads', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'configuration.md'), 'utf8');
  const read = [...configVariables].sort();
  const documented = [...doc.matchAll(/^\| `([A-Za-z][A-Za-z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, read);
});
