import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import { eventually, freePort, sseReader, startScaleProcesses, type RunningProfile } from '../test/launch.js';

// The live alert stream of the scale profile: any number of clients costs one consumer group per
// API process (no group per client, none left behind), and every client gets every alert. The
// matcher's metrics (per-stage times, consumer lag) on its METRICS_PORT.

let app: RunningProfile;
let matcherMetrics: string;
const admin = new Kafka({ clientId: 'facewatch-test-groups', brokers: process.env['KAFKA_BROKERS']!.split(','), logLevel: logLevel.NOTHING }).admin();

before(async () => {
  const port = await freePort();
  matcherMetrics = `http://127.0.0.1:${port}/metrics`;
  app = await startScaleProcesses({}, { matcher: { METRICS_PORT: String(port) } });
  await admin.connect();
  const form = new FormData();
  form.append('name', 'sheldon');
  for (const img of identityImages().filter((i) => i.person === 'sheldon')) form.append('images', new Blob([readFileSync(img.path)]), img.file);
  assert.equal((await fetch(`${app.baseUrl}/api/v1/blacklist/`, { method: 'POST', body: form })).status, 201);
});
after(async () => {
  await admin.disconnect();
  assert.equal(await app.stop(), 0);
});

async function processPhoto(file: string): Promise<any> {
  const group = groupPhotos().find((g) => g.file.endsWith(file))!;
  const res = await fetch(`${app.baseUrl}/api/v1/process/process-images`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [readFileSync(group.path).toString('base64')] }),
  });
  return ((await res.json()) as any[])[0];
}

test('50 event-stream clients: one consumer group for the API process, and every client gets the alert', { timeout: 300_000 }, async () => {
  const port = new URL(app.baseUrl).port;
  const apiGroup = `api-${hostname()}-${port}`;
  const groupsBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
  assert.ok(groupsBefore.includes(apiGroup), `the API's group ${apiGroup} exists: ${groupsBefore.join(', ')}`);

  const aborts: AbortController[] = [];
  try {
    const readers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const abort = new AbortController();
        aborts.push(abort);
        const res = await fetch(`${app.baseUrl}/api/v1/alerts/stream`, { signal: abort.signal });
        assert.equal(res.status, 200);
        return sseReader(res);
      }),
    );
    const clients = await eventually(async () => {
      const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
      return /^facewatch_alert_stream_clients 50$/m.test(text) ? true : undefined;
    }, '50 stream clients counted');
    assert.ok(clients);
    const groupsWith = (await admin.listGroups()).groups.map((g) => g.groupId);
    assert.deepEqual(
      groupsWith.filter((g) => !groupsBefore.includes(g)),
      [],
      'no consumer group per client',
    );
    assert.equal(groupsWith.filter((g) => g === apiGroup).length, 1);

    const result = await processPhoto('bbt4.jpg');
    const alert = result.faces.find((f: any) => f.decision === 'match');
    assert.equal(alert?.blacklist_matches[0].name, 'sheldon');
    const received = await Promise.all(
      readers.map(async (r) => {
        for (;;) {
          const e = await r.next();
          if (e.event === 'face.matched') return JSON.parse(e.data!);
        }
      }),
    );
    assert.equal(received.length, 50);
    for (const a of received) {
      assert.equal(a.image_id, result.id);
      assert.equal(a.name, 'sheldon');
    }
  } finally {
    for (const a of aborts) a.abort();
  }
  await eventually(async () => (/^facewatch_alert_stream_clients 0$/m.test(await (await fetch(`${app.baseUrl}/metrics`)).text()) ? true : undefined), 'clients gone');
  assert.deepEqual(
    (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !groupsBefore.includes(g)),
    [],
    'none left behind',
  );
});

test("the matcher's /metrics: per-stage times of the images it matched and its consumer lag", async () => {
  const text = await eventually(
    async () => {
      const t = await (await fetch(matcherMetrics)).text();
      return /^facewatch_consumer_lag_messages\{group="matcher",topic="[^"]+"\} 0$/m.test(t) ? t : undefined;
    },
    'the lag sampled at 0 once everything is matched',
    60_000,
  );
  for (const stage of ['decode', 'detect', 'align', 'embed', 'search', 'persist', 'publish']) {
    assert.match(text, new RegExp(`^facewatch_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`, 'm'), stage);
  }
  assert.match(text, /^facewatch_images_processed_total\{source="api",outcome="ok"\} [1-9]/m);
  assert.match(text, /^facewatch_alerts_total\{decision="match"\} [1-9]/m);
});
