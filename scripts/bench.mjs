#!/usr/bin/env node
// `npm run bench`: the face pipeline and the vector searches in one report (npm run build first).
//   1. bench:face — images/s, faces/s, cores busy, CPU ms per image and ms per stage, 1 and 2
//      workers, on the open-set identity photos, the single-face fixtures and a 12 MP set;
//   2. bench:vector — the embedded profile's exact index at 10 000 and 100 000 faces: p50/p99,
//      recall@1, and HTTP /health answer times during a search load;
//   3. with DATABASE_URL: bench:pgvector at 100 000 faces (halfvec and vector HNSW).
// 1 M faces in PostgreSQL takes about an hour on 2 cores (ground truth, load, one index build):
//   DATABASE_URL=… npm run bench:pgvector -- --vectors 1000000 --storage halfvec
// Extra arguments go to bench:face (e.g. `npm run bench -- --seconds 10`).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const run = (script, args) => {
  const r = spawnSync(process.execPath, [resolve(root, script), ...args], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run('libs/face/dist/bench/bench-face.js', ['--sets', 'open-set,crops,12mp', ...process.argv.slice(2)]);
console.log('');
run('libs/db/dist/bench/bench-vector-index.js', ['--sizes', '10000,100000']);
if (process.env.DATABASE_URL) {
  console.log('');
  run('libs/db/dist/bench/bench-pgvector.js', ['--vectors', '100000', '--storage', 'halfvec,vector', '--ef-search', '40,64,100']);
} else {
  console.log('\n(bench:pgvector skipped: DATABASE_URL is not set)');
}
