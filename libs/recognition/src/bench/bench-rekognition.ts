import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DescribeCollectionCommand, DetectFacesCommand, RekognitionClient, SearchFacesByImageCommand, type FaceDetail } from '@aws-sdk/client-rekognition';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import { createLogger, loadConfig } from '@facewatch/core';
import { startFacePool } from '@facewatch/face';
import { expressionImages, groupPhotos, identityImages, median } from '@facewatch/face/testing';
import { RekognitionBackend } from '../aws/rekognition-backend.js';
import { RekognitionCollection } from '../aws/rekognition-collection.js';
import type { S3ReferenceStore } from '../aws/s3-reference-store.js';

// `npm run bench:rekognition [seconds-per-run]`: what the aws_rekognition backend costs on this
// machine per image, AWS's own time left out: Rekognition is answered at once by aws-sdk-client-mock
// with the real face boxes of each image (found once, up front, by the local detector), so the
// figures are facewatch's work — header checks, re-encoding to Rekognition's limits, one crop per
// face — and the number of Rekognition calls an image costs. Add AWS's latency per call
// (typically 100-300 ms for DetectFaces and SearchFacesByImage) for the end-to-end time.
const seconds = Number(process.argv[2] ?? 5);
const config = loadConfig();
const log = createLogger({ level: 'silent' });

const enlarge = (path: string) => sharp(readFileSync(path)).resize({ width: 4000, height: 3000, fit: 'fill' }).jpeg({ quality: 95 }).toBuffer();
const sets = [
  {
    name: 'single-face fixtures (40 crops 150 px PNG + 7 portraits JPEG)',
    images: [...identityImages().map((i) => readFileSync(i.path)), ...expressionImages().map((p) => readFileSync(p))],
  },
  { name: 'single-face 12 MP JPEGs (portraits enlarged to 4000x3000, q95: over 5 MB are re-encoded)', images: await Promise.all(expressionImages().map(enlarge)) },
  { name: 'group photos (5 photos, 22-23 faces)', images: groupPhotos().map((g) => readFileSync(g.path)) },
];

// the real faces of every image, as DetectFaces would report them (ratios)
const pool = await startFacePool({ ...config.face, pool: { ...config.face.pool, workers: 2 } });
const detailsByImage = new Map<string, FaceDetail[]>();
const key = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');
for (const set of sets) {
  for (const image of set.images) {
    const r = await pool.analyse(image, { embed: false });
    const details = r.faces.map((f) => ({
      BoundingBox: { Left: f.box.x / r.width, Top: f.box.y / r.height, Width: f.box.w / r.width, Height: f.box.h / r.height },
      Confidence: f.score * 100,
      Landmarks: [],
    }));
    detailsByImage.set(key(image), details);
  }
}
await pool.close();

const client = new RekognitionClient({ region: 'us-east-1', maxAttempts: 1 });
const rekognition = mockClient(client);
let detectCalls = 0;
let searchCalls = 0;
/** The faces of the image being searched, for DetectFaces when it receives a re-encoded copy (12 MP set: all portraits, one face each). */
let lastOriginal: FaceDetail[] = [];
rekognition.on(DescribeCollectionCommand).resolves({ FaceCount: 0, FaceModelVersion: '7.0' });
rekognition.on(DetectFacesCommand).callsFake(async (input: { Image: { Bytes: Uint8Array } }) => {
  detectCalls++;
  const k = key(input.Image.Bytes);
  return { FaceDetails: detailsByImage.get(k) ?? lastOriginal };
});
rekognition.on(SearchFacesByImageCommand).callsFake(async () => {
  searchCalls++;
  return {
    SearchedFaceBoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 },
    SearchedFaceConfidence: 99.9,
    FaceMatches: [{ Similarity: 97.1, Face: { FaceId: randomUUID(), Confidence: 99.9 } }],
  };
});
const references = { check: async () => undefined } as unknown as S3ReferenceStore;
const backend = await RekognitionBackend.open({
  collection: new RekognitionCollection({ client, collectionId: 'bench', log, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }),
  references,
  config: {
    region: 'us-east-1',
    collectionId: 'bench',
    bucket: 'bench',
    s3Prefix: '',
    s3Endpoint: undefined,
    rekognitionEndpoint: undefined,
    faceMatchThreshold: 80,
    qualityFilter: 'AUTO',
    maxAttempts: 1,
  },
  limits: { maxBytes: config.face.decode.maxBytes, maxPixels: config.face.decode.maxPixels },
  log,
});
const options = { ...backend.resolveOptions(undefined), limit: 5 };

console.log(`bench:rekognition — ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}, ${seconds} s per run, Rekognition answered at once (mock)`);
console.log('in flight | images/s | faces/s | Rekognition calls per image | cores busy | median ms per image | set');
for (const inFlight of [1, 8]) {
  for (const set of sets) {
    for (const image of set.images) {
      lastOriginal = detailsByImage.get(key(image))!;
      await backend.search(image, options); // warm-up
    }
    let images = 0;
    let faces = 0;
    let next = 0;
    const times: number[] = [];
    detectCalls = 0;
    searchCalls = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          const image = set.images[next++ % set.images.length]!;
          const start = performance.now();
          lastOriginal = detailsByImage.get(key(image))!;
          const r = await backend.search(image, options);
          times.push(performance.now() - start);
          images++;
          faces += r.faces.length;
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `${String(inFlight).padStart(9)} | ${(images / wallS).toFixed(1).padStart(8)} | ${(faces / wallS).toFixed(1).padStart(7)} | ${((detectCalls + searchCalls) / images).toFixed(2).padStart(27)} | ${((cpu.user + cpu.system) / 1e6 / wallS).toFixed(2).padStart(10)} | ${median(times).toFixed(1).padStart(19)} | ${set.name}`,
    );
  }
}
await backend.close();
