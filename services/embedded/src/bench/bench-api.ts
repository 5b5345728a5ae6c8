import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger, loadConfig } from '@facewatch/core';
import { openSqliteStore } from '@facewatch/db';
import { identityImages, median, openSetPortraits, percentile } from '@facewatch/face/testing';
import { startEmbedded } from '../embedded.js';

// `npm run bench:api`: end-to-end images/s and latency of POST /api/v1/process/process-images with
// one-face images at concurrency 1, 2 and 8, through the real HTTP server of the embedded profile;
// then vector search latency at 10 k and 100 k enrolled faces.
const seconds = Number(process.argv[2] ?? 8);
const work = mkdtempSync(join(tmpdir(), 'facewatch-bench-api-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  DATA_DIR: join(work, 'data'),
  BLACKLIST_DB_PATH: join(work, 'blacklist_db'),
  PROCESSED_IMAGES_OUTPUT_DIR: join(work, 'processed'),
  INBOX_DIR: join(work, 'inbox'),
  LOG_LEVEL: 'warn',
  // a benchmark measures throughput, not the rate limit on changing requests
  RATE_LIMIT_PER_MINUTE: '0',
});
const log = createLogger({ level: 'warn' });
const app = await startEmbedded(config, log);
const base = `http://127.0.0.1:${app.port}/api/v1`;

console.log(`bench:api — ${cpus().length} cores, node ${process.version}, ${config.face.pool.workers} inference workers, ${seconds} s per run`);
for (const person of [...new Set(identityImages().map((i) => i.person))]) {
  const form = new FormData();
  form.append('name', person);
  for (const img of identityImages().filter((i) => i.person === person)) form.append('images', new Blob([readFileSync(img.path)]), img.file);
  const res = await fetch(`${base}/blacklist/`, { method: 'POST', body: form });
  if (res.status !== 201) throw new Error(`enrolment failed: ${res.status} ${await res.text()}`);
}

// real one-face colour photos, not 150-px crops (issue #12)
const images = openSetPortraits().map((p) => readFileSync(p).toString('base64'));
console.log(`process-images, one image per request (${images.length} one-face colour photos of the open-set identities, 0.2-3.3 MP, base64), 8 people enrolled`);
console.log('concurrency | images/s | p50 ms | p95 ms | cores busy');
for (const concurrency of [1, 2, 8]) {
  let next = 0;
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        const res = await fetch(`${base}/process/process-images`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ images: [images[next++ % images.length]] }),
        });
        const body = (await res.json()) as { error: unknown }[];
        if (res.status !== 200 || body[0]?.error) throw new Error(`request failed: ${res.status} ${JSON.stringify(body)}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${String(concurrency).padStart(11)} | ${(latencies.length / wall).toFixed(1).padStart(8)} | ${median(latencies).toFixed(1).padStart(6)} | ${percentile(latencies, 95).toFixed(1).padStart(6)} | ${((cpu.user + cpu.system) / 1e6 / wall).toFixed(2).padStart(10)}`,
  );
}
await app.close();

// Vector search at scale: clustered synthetic unit vectors (2 000 identities) in a fresh store.
console.log('vector search (SQLite store, k=5, 512-d, clustered synthetic embeddings)');
console.log('faces | load s | p50 ms | p95 ms');
const store = await openSqliteStore({ path: join(work, 'search.db') });
const index = await store.vectorIndex('fr_feature', 512);
let seed = 42;
const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const centres = Array.from({ length: 2000 }, () => unit(Float32Array.from({ length: 512 }, random)));
const near = (c: Float32Array, noise: number): Float32Array => unit(c.map((x) => x + noise * random()));
let loaded = 0;
for (const target of [10_000, 100_000]) {
  const t0 = performance.now();
  while (loaded < target) {
    const batch = Array.from({ length: Math.min(5000, target - loaded) }, (_, i) => ({ id: `f${loaded + i}`, vector: near(centres[(loaded + i) % centres.length]!, 0.05) }));
    await index.upsert(batch);
    loaded += batch.length;
  }
  const loadS = (performance.now() - t0) / 1000;
  const times: number[] = [];
  for (let q = 0; q < 200; q++) {
    const query = near(centres[q % centres.length]!, 0.05);
    const s = performance.now();
    await index.search(query, 5);
    times.push(performance.now() - s);
  }
  console.log(`${String(target).padStart(6)} | ${loadS.toFixed(1).padStart(6)} | ${median(times).toFixed(2).padStart(6)} | ${percentile(times, 95).toFixed(2).padStart(6)}`);
}
await store.close();
rmSync(work, { recursive: true, force: true });
