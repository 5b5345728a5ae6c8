import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadConfig } from '@facewatch/core';
import { startFacePool } from '../face-service.js';
import type { StageTimings } from '../pipeline.js';
import { expressionImages, groupPhotos, identityImages, median } from '../testing/index.js';

// `npm run bench:face [seconds-per-run]`: throughput of the face pipeline (decode → detect → align →
// embed) through the inference worker pool, for 1 and 2 workers, on the fixture images.
const seconds = Number(process.argv[2] ?? 6);
const config = loadConfig();

interface Set {
  name: string;
  images: Buffer[];
}

async function enlarge(path: string): Promise<Buffer> {
  return sharp(readFileSync(path)).resize({ width: 4000, height: 3000, fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
}

const sets: Set[] = [
  { name: 'single-face fixtures (40 crops 150 px + 7 portraits)', images: [...identityImages().map((i) => readFileSync(i.path)), ...expressionImages().map((p) => readFileSync(p))] },
  { name: 'single-face 12 MP photos (portraits enlarged to 4000x3000 JPEG)', images: await Promise.all(expressionImages().map(enlarge)) },
  { name: 'group photos (5 photos, 22-23 faces)', images: groupPhotos().map((g) => readFileSync(g.path)) },
];

console.log(`bench:face — ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, detector ${config.face.detector}, embedder ${config.face.embedder}, ${seconds} s per run`);
console.log('workers | images/s | faces/s | cores busy | decode | detect | align | embed (median ms per image) | set');

for (const workers of [1, 2]) {
  const tasksPerWorker = config.face.pool.tasksPerWorker;
  const pool = await startFacePool({ ...config.face, pool: { workers, tasksPerWorker, maxQueued: 1000 } });
  for (const set of sets) {
    // warm-up pass over the set
    await Promise.all(set.images.map((b) => pool.analyse(b, { embed: true })));
    const inFlight = workers * tasksPerWorker * 2;
    const timings: StageTimings[] = [];
    let images = 0, faces = 0, next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          const r = await pool.analyse(set.images[next++ % set.images.length]!, { embed: true });
          images++;
          faces += r.faces.length;
          timings.push(r.timings);
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const busy = (cpu.user + cpu.system) / 1e6 / wallS;
    const m = (k: keyof StageTimings): string => median(timings.map((t) => t[k])).toFixed(1).padStart(6);
    console.log(
      `${String(workers).padStart(7)} | ${(images / wallS).toFixed(1).padStart(8)} | ${(faces / wallS).toFixed(1).padStart(7)} | ${busy.toFixed(2).padStart(10)} | ${m('decodeMs')} | ${m('detectMs')} | ${m('alignMs')} | ${m('embedMs')}                       | ${set.name}`,
    );
  }
  await pool.close();
}
