import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import { eventually, startEmbeddedProcess } from './launch.js';

test('inbox files that arrive while facewatch is down are processed at the next start; data survives a restart', async () => {
  const first = await startEmbeddedProcess();
  const form = new FormData();
  form.append('name', 'raj');
  for (const img of identityImages().filter((i) => i.person === 'raj')) form.append('images', new Blob([readFileSync(img.path)]), img.file);
  const created = await fetch(`${first.baseUrl}/api/v1/blacklist/`, { method: 'POST', body: form });
  assert.equal(created.status, 201);
  assert.equal(await first.stop({ keep: true }), 0);

  const groups = groupPhotos().filter((g) => g.faces.includes('raj'));
  for (const g of groups) copyFileSync(g.path, join(first.dirs.inbox, basename(g.path)));

  const second = await startEmbeddedProcess({}, { work: first.work });
  try {
    await eventually(
      async () => (existsSync(join(second.dirs.inbox, 'done')) && readdirSync(join(second.dirs.inbox, 'done')).length === groups.length ? true : undefined),
      'files processed after restart',
    );
    const list = (await (await fetch(`${second.baseUrl}/api/v1/blacklist/`)).json()) as any;
    assert.equal(list.total_items, 1, 'the watch-list survived the restart');
    const results = (await (await fetch(`${second.baseUrl}/api/v1/processed-images?limit=100`)).json()) as any;
    assert.equal(results.total_items, groups.length);
    const matchedRaj = results.items.filter((r: any) => r.faces.some((f: any) => f.blacklist_matches.some((m: any) => m.name === 'raj')));
    assert.ok(matchedRaj.length >= groups.length - 1, `${matchedRaj.length} of ${groups.length} photos matched raj`);
  } finally {
    assert.equal(await second.stop(), 0);
  }
});

test('live alerts: a matching face arrives on the event stream', async () => {
  const app = await startEmbeddedProcess();
  const abort = new AbortController();
  try {
    const form = new FormData();
    form.append('name', 'sheldon');
    for (const img of identityImages().filter((i) => i.person === 'sheldon')) form.append('images', new Blob([readFileSync(img.path)]), img.file);
    const person = (await (await fetch(`${app.baseUrl}/api/v1/blacklist/`, { method: 'POST', body: form })).json()) as any;

    const stream = await fetch(`${app.baseUrl}/api/v1/alerts/stream`, { signal: abort.signal });
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    const reader = stream.body!.getReader();
    const group = groupPhotos().find((g) => g.faces.includes('sheldon'))!;
    const processed = fetch(`${app.baseUrl}/api/v1/process/process-images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [readFileSync(group.path).toString('base64')], threshold: 0.68 }),
    }).then((r) => r.json() as Promise<any[]>);
    let text = '';
    const alert = await eventually(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      const m = /event: face\.matched\ndata: (.*)\n\n/.exec(text);
      return m ? JSON.parse(m[1]!) : undefined;
    }, 'an alert on the stream');
    const [result] = await processed;
    assert.equal(alert.person_id, person.id);
    assert.equal(alert.name, 'sheldon');
    assert.equal(alert.image_id, result.id);
    assert.ok(alert.distance <= alert.threshold);
    assert.match(alert.alert_id, /^[0-9a-f]{32}$/);
  } finally {
    abort.abort();
    assert.equal(await app.stop(), 0);
  }
});
