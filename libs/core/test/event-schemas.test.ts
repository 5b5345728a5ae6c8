import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventJsonSchemas, fromWire, projectRoot, Topic, toWire, type ImageReceived } from '@facewatch/core';

test('the committed JSON Schemas in libs/core/schemas are what the code generates (run `npm run schemas`)', () => {
  for (const [topic, schema] of Object.entries(eventJsonSchemas())) {
    const committed = JSON.parse(readFileSync(join(projectRoot(), 'libs', 'core', 'schemas', `${topic}.json`), 'utf8'));
    assert.deepEqual(committed, schema, topic);
  }
});

test('image received round-trips through its wire form; malformed payloads are refused', () => {
  const event: ImageReceived = {
    event_id: 'e1',
    source: 'kafka',
    identifier: 'cam-1/0001.jpg',
    sha256: 'a'.repeat(64),
    image: { kind: 'bytes', bytes: new Uint8Array([255, 216, 255, 0, 1]) },
    options: { threshold: 0.5 },
    received_at: '2026-11-27T10:00:00Z',
  };
  const wire = JSON.parse(JSON.stringify(toWire(Topic.imageReceived, event)));
  assert.deepEqual(wire.image, { kind: 'bytes', bytes_base64: '/9j/AAE=' });
  assert.deepEqual(fromWire(Topic.imageReceived, wire), event);
  const byPath = { event_id: 'e2', source: 'kafka', identifier: 'x', image: { kind: 'path', path: '/srv/cams/1.jpg' }, received_at: 'now' };
  assert.deepEqual(fromWire(Topic.imageReceived, byPath), byPath);
  for (const bad of [{}, { ...byPath, image: { kind: 'ftp', url: 'x' } }, { ...byPath, extra: 1 }, { ...byPath, source: 'email' }]) {
    assert.throws(() => fromWire(Topic.imageReceived, bad), { code: 'INVALID_ARGUMENT' });
  }
});
