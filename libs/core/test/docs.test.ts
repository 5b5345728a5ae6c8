import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode, projectRoot } from '@facewatch/core';

// docs/errors.md and docs/configuration.md are the operator's reference: they must list exactly
// what the code has.

test('docs/errors.md lists every error code, and no other', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, Object.values(ErrorCode).sort());
});

test('docs/configuration.md documents every environment variable the config reads', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'configuration.md'), 'utf8');
  const source = readFileSync(join(projectRoot(), 'libs', 'core', 'src', 'config.ts'), 'utf8');
  const schema = source.slice(source.indexOf('const envSchema'), source.indexOf('});', source.indexOf('const envSchema')));
  const read = [...schema.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
  const documented = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
  assert.ok(read.length >= 10, `found ${read.length} variables in config.ts`);
  assert.deepEqual(documented, read);
});
