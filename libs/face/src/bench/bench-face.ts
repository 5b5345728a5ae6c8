import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '@facewatch/core';
import { startFacePool } from '../face-service.js';
import type { StageTimings } from '../pipeline.js';
import { expressionImages, groupPhotos, identityImages, median, openSetDir } from '../testing/index.js';

// `npm run bench:face [-- --seconds 6] [--sets open-set,12mp] [--workers 1,2]`: steady throughput
// of the face pipeline (decode → detect → align → embed) through the inference worker pool, for 1
// and 2 workers, per image set. Each run starts after a warm-up pass over its set and keeps
// workers × tasksPerWorker × 2 images in flight (as `facewatch represent` and the matcher do).
// Columns: images/s and faces/s; cores busy (CPU time of the whole process — workers, libuv,
// libvips and onnxruntime threads — over wall time); CPU ms per image (cores busy / images/s: the
// figure least moved by other work on a shared machine); mean and median ms per image of each
// stage as the workers time them (wall time inside one worker, so it includes waiting for a core).
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    sets: { type: 'string' },
    workers: { type: 'string', default: '1,2' },
  },
});
const seconds = Number(values.seconds);
const workerCounts = values.workers.split(',').map(Number);
const config = loadConfig();

interface ImageSet {
  key: string;
  name: string;
  images: () => Promise<Buffer[]>;
}

const openSetIdentities = (): string[] => {
  const dir = join(openSetDir(), 'identities');
  return readdirSync(dir)
    .sort()
    .flatMap((person) =>
      readdirSync(join(dir, person))
        .sort()
        .map((f) => join(dir, person, f)),
    );
};

/** Enlarged to about 12 MP (4000x3000, aspect kept when `keepAspect`), JPEG quality 90. */
async function enlarge(path: string, keepAspect: boolean): Promise<Buffer> {
  const image = sharp(readFileSync(path));
  if (!keepAspect) return image.resize({ width: 4000, height: 3000, fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const { width, height } = await image.metadata();
  const f = Math.sqrt(12e6 / (width * height));
  return image
    .resize({ width: Math.round(width * f), height: Math.round(height * f), fit: 'fill' })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

const allSets: ImageSet[] = [
  { key: 'open-set', name: 'open-set identity photos (34 colour photos, 1 face each, 0.2-3.3 MP)', images: async () => openSetIdentities().map((p) => readFileSync(p)) },
  { key: '12mp', name: '12 MP: the 7 expression portraits enlarged to 4000x3000 JPEG', images: () => Promise.all(expressionImages().map((p) => enlarge(p, false))) },
  { key: '12mp-open-set', name: '12 MP: the open-set identity photos enlarged to 12 MP JPEG', images: () => Promise.all(openSetIdentities().map((p) => enlarge(p, true))) },
  {
    key: 'crops',
    name: 'single-face fixtures (40 grey crops 150 px + 7 portraits)',
    images: async () => [...identityImages().map((i) => readFileSync(i.path)), ...expressionImages().map((p) => readFileSync(p))],
  },
  { key: 'groups', name: 'group photos (5 photos, 22-23 faces)', images: async () => groupPhotos().map((g) => readFileSync(g.path)) },
];
const wanted = values.sets?.split(',');
const sets = wanted ? allSets.filter((s) => wanted.includes(s.key)) : allSets;
const images = new Map<string, Buffer[]>();
for (const set of sets) images.set(set.key, await set.images());

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
console.log(
  `bench:face — ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0]!.toFixed(1)} at start, node ${process.version}, detector ${config.face.detector}, embedder ${config.face.embedder}, ${config.face.pool.tasksPerWorker} images in flight per worker, ${seconds} s per run`,
);

for (const workers of workerCounts) {
  const tasksPerWorker = config.face.pool.tasksPerWorker;
  const pool = await startFacePool({ ...config.face, pool: { workers, tasksPerWorker, maxQueued: 1000 } });
  if (workers === workerCounts[0]) {
    const chosen = Object.entries(pool.sessions ?? {}).map(
      ([model, c]) =>
        `${model} ${c.level} (${Object.entries(c.probeMs)
          .map(([l, ms]) => `${l} ${ms.toFixed(1)} ms`)
          .join(', ')})`,
    );
    if (chosen.length > 0) console.log(`graph optimisation chosen by timing: ${chosen.join('; ')}`);
    console.log(
      `workers | images/s | faces/s | cores busy | CPU ms/image | ${['decode', 'detect', 'align', 'embed'].map((s) => s.padEnd(11)).join(' | ')} | set (stages: mean / median ms per image)`,
    );
  }
  for (const set of sets) {
    const list = images.get(set.key)!;
    await Promise.all(list.map((b) => pool.analyse(b, { embed: true }))); // warm-up pass
    const inFlight = workers * tasksPerWorker * 2;
    const timings: StageTimings[] = [];
    let done = 0,
      faces = 0,
      next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          const r = await pool.analyse(list[next++ % list.length]!, { embed: true });
          done++;
          faces += r.faces.length;
          timings.push(r.timings);
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const busy = (cpu.user + cpu.system) / 1e6 / wallS;
    const stage = (k: keyof StageTimings): string => {
      const xs = timings.map((t) => t[k]);
      return `${mean(xs).toFixed(1)} / ${median(xs).toFixed(1)}`.padStart(11);
    };
    console.log(
      `${String(workers).padStart(7)} | ${(done / wallS).toFixed(1).padStart(8)} | ${(faces / wallS).toFixed(1).padStart(7)} | ${busy.toFixed(2).padStart(10)} | ${((busy * 1000 * wallS) / done).toFixed(1).padStart(12)} | ${stage('decodeMs')} | ${stage('detectMs')} | ${stage('alignMs')} | ${stage('embedMs')} | ${set.name}`,
    );
  }
  await pool.close();
}
