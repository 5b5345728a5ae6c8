import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger, loadConfig } from '@facewatch/core';
import { expressionImages, identityImages, openSetDir, percentile } from '@facewatch/face/testing';
import { startEmbedded } from '../embedded.js';

// `npm run soak [-- --minutes 60] [--url http://host:port] [--load 0.5]`: a long run at a fraction
// of peak load (not part of `npm test`). Without --url it starts the embedded profile in this
// process; with --url it drives a running server (either profile; give the matcher's METRICS_PORT
// with --matcher-metrics to follow its lag). Every minute it samples throughput, latency, errors,
// resident memory, active handles and consumer lag (from /metrics), and prints the table at the end.

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    url: { type: 'string' },
    load: { type: 'string', default: '0.5' },
    'matcher-metrics': { type: 'string' },
    key: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const load = Number(values.load);

let base = values.url;
let close: (() => Promise<void>) | undefined;
if (!base) {
  const work = mkdtempSync(join(tmpdir(), 'facewatch-soak-'));
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    DATA_DIR: join(work, 'data'),
    BLACKLIST_DB_PATH: join(work, 'blacklist_db'),
    PROCESSED_IMAGES_OUTPUT_DIR: join(work, 'processed'),
    INBOX_DIR: join(work, 'inbox'),
    LOG_LEVEL: 'warn',
  });
  const app = await startEmbedded(config, createLogger({ level: 'warn' }));
  base = `http://127.0.0.1:${app.port}`;
  close = async () => {
    await app.close();
    rmSync(work, { recursive: true, force: true });
  };
}
const headers: Record<string, string> = values.key ? { 'X-API-Key': values.key } : {};

// a watch-list of the 8 fixture people, and one-face colour photos to send
for (const person of [...new Set(identityImages().map((i) => i.person))]) {
  const form = new FormData();
  form.append('name', `soak-${person}`);
  for (const img of identityImages().filter((i) => i.person === person)) form.append('images', new Blob([readFileSync(img.path)]), img.file);
  await fetch(`${base}/api/v1/blacklist/`, { method: 'POST', body: form, headers });
}
const photos = [
  ...expressionImages(),
  ...['obama/obama1.jpg', 'biden/biden1.jpg', 'vlado/vlado1.jpg', 'kit_harington/kit1.jpg'].map((p) => join(openSetDir(), 'identities', p)),
].map((p) => readFileSync(p).toString('base64'));

let sent = 0;
async function send(): Promise<{ ms: number; ok: boolean }> {
  const image = photos[sent++ % photos.length]!;
  const started = performance.now();
  try {
    const res = await fetch(`${base}/api/v1/process/process-images`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ images: [image] }),
    });
    const body = (await res.json()) as { error: unknown }[];
    return { ms: performance.now() - started, ok: res.status === 200 && !body[0]?.error };
  } catch {
    return { ms: performance.now() - started, ok: false };
  }
}

// peak: 20 s with 8 requests in flight
const peakStart = performance.now();
let peakDone = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (performance.now() - peakStart < 20_000) if ((await send()).ok) peakDone++;
  }),
);
const peak = peakDone / ((performance.now() - peakStart) / 1000);
const rate = peak * load;
console.log(`soak: ${base}, peak ${peak.toFixed(1)} img/s, running ${minutes} min at ${(load * 100).toFixed(0)} % = ${rate.toFixed(1)} img/s`);

async function gauge(url: string, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(url, { headers })).text();
    const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].map((m) => Number(m[1]));
    return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
  } catch {
    return null;
  }
}

interface Sample {
  minute: number;
  images: number;
  errors: number;
  p50: number;
  p99: number;
  rssMb: number | null;
  handles: number | null;
  matcherRssMb: number | null;
  matcherHandles: number | null;
  lag: number | null;
}
const samples: Sample[] = [];
let window: { ms: number; ok: boolean }[] = [];
const inFlight = new Set<Promise<void>>();
const started = performance.now();
let nextAt = started;
let nextSample = started + 60_000;
while (performance.now() - started < minutes * 60_000) {
  const now = performance.now();
  if (now >= nextAt) {
    nextAt += 1000 / rate;
    const p: Promise<void> = send()
      .then((r) => {
        window.push(r);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size > 64) await Promise.race(inFlight);
  } else {
    await new Promise((r) => setTimeout(r, Math.min(nextAt - now, nextSample - now, 50)));
  }
  if (performance.now() >= nextSample) {
    nextSample += 60_000;
    const ms = window.filter((r) => r.ok).map((r) => r.ms);
    const metricsUrl = `${base}/metrics`;
    samples.push({
      minute: samples.length + 1,
      images: ms.length,
      errors: window.length - ms.length,
      p50: ms.length ? percentile(ms, 50) : 0,
      p99: ms.length ? percentile(ms, 99) : 0,
      rssMb: ((await gauge(metricsUrl, 'facewatch_process_resident_memory_bytes')) ?? 0) / 1048576 || null,
      handles: await gauge(metricsUrl, 'facewatch_nodejs_active_handles_total'),
      matcherRssMb: values['matcher-metrics'] ? ((await gauge(values['matcher-metrics'], 'facewatch_process_resident_memory_bytes')) ?? 0) / 1048576 || null : null,
      matcherHandles: values['matcher-metrics'] ? await gauge(values['matcher-metrics'], 'facewatch_nodejs_active_handles_total') : null,
      lag: await gauge(values['matcher-metrics'] ?? metricsUrl, 'facewatch_consumer_lag_messages'),
    });
    const s = samples.at(-1)!;
    console.log(
      `minute ${s.minute}: ${s.images} images (${(s.images / 60).toFixed(1)}/s), ${s.errors} errors, p50 ${s.p50.toFixed(0)} ms, p99 ${s.p99.toFixed(0)} ms, rss ${s.rssMb?.toFixed(0) ?? '-'} MB, handles ${s.handles ?? '-'}, matcher rss ${s.matcherRssMb?.toFixed(0) ?? '-'} MB, matcher handles ${s.matcherHandles ?? '-'}, lag ${s.lag ?? '-'}`,
    );
    window = [];
  }
}
await Promise.all(inFlight);

console.log('\nminute | images | errors | p50 ms | p99 ms | RSS MB | handles | matcher RSS MB | matcher handles | lag');
for (const s of samples)
  console.log(
    `${s.minute} | ${s.images} | ${s.errors} | ${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${s.rssMb?.toFixed(0) ?? '-'} | ${s.handles ?? '-'} | ${s.matcherRssMb?.toFixed(0) ?? '-'} | ${s.matcherHandles ?? '-'} | ${s.lag ?? '-'}`,
  );
const first = samples[0];
const last = samples.at(-1);
if (first && last) {
  const matcher = values['matcher-metrics']
    ? `; matcher RSS ${first.matcherRssMb?.toFixed(0)} → ${last.matcherRssMb?.toFixed(0)} MB, handles ${first.matcherHandles} → ${last.matcherHandles}`
    : '';
  console.log(
    `\nRSS ${first.rssMb?.toFixed(0)} → ${last.rssMb?.toFixed(0)} MB, handles ${first.handles} → ${last.handles}${matcher}, errors ${samples.reduce((n, s) => n + s.errors, 0)} of ${samples.reduce((n, s) => n + s.images + s.errors, 0)}`,
  );
}
await close?.();
