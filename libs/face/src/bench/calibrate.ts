import { readFileSync } from 'node:fs';
import { DistanceMetric, loadConfig } from '@facewatch/core';
import { distance, type EmbeddingVector } from '../embed/distance.js';
import { startFacePool } from '../face-service.js';
import { auc, bestThreshold, dPrime, groupPhotos, identityImages, labelFaces, summarise } from '../testing/index.js';

// `npm run calibrate:face`: genuine/impostor statistics per metric on the fixtures, the numbers
// behind DEFAULT_MAX_DISTANCE (docs/face-thresholds.md).
const config = loadConfig();
const pool = await startFacePool(config.face);
const detector = config.face.detector;

const refs: (EmbeddingVector & { person: string })[] = [];
for (const img of identityImages()) {
  const r = await pool.analyse(readFileSync(img.path), { embed: true, detector });
  const f = r.faces[0];
  if (f?.embedding && f.norm !== undefined) refs.push({ person: img.person, embedding: f.embedding, norm: f.norm });
  else console.log(`no face in ${img.person}/${img.file}`);
}
const probes: (EmbeddingVector & { person: string })[] = [];
for (const g of groupPhotos()) {
  const r = await pool.analyse(readFileSync(g.path), { embed: true, detector });
  for (const { person, face } of labelFaces(r.faces, g)) probes.push({ person, embedding: face.embedding!, norm: face.norm! });
}
await pool.close();

console.log(`detector ${detector}, embedder ${config.face.embedder}: ${refs.length} identity crops, ${probes.length} labelled group faces`);
for (const metric of DistanceMetric) {
  const gen: number[] = [],
    imp: number[] = [];
  for (let i = 0; i < refs.length; i++) for (let j = i + 1; j < refs.length; j++) (refs[i]!.person === refs[j]!.person ? gen : imp).push(distance(metric, refs[i]!, refs[j]!));
  const pgen: number[] = [],
    pimp: number[] = [];
  for (const p of probes) for (const r of refs) (p.person === r.person ? pgen : pimp).push(distance(metric, p, r));
  // nearest-reference distance per probe to its own person vs to the closest other person
  const nearestOwn = probes.map((p) => Math.min(...refs.filter((r) => r.person === p.person).map((r) => distance(metric, p, r))));
  const nearestOther = probes.map((p) => Math.min(...refs.filter((r) => r.person !== p.person).map((r) => distance(metric, p, r))));
  const crops = bestThreshold(gen, imp);
  const photos = bestThreshold(nearestOwn, nearestOther);
  const f = (x: number): string => x.toFixed(4);
  console.log(`\n[${metric}]`);
  console.log(
    `  crop pairs: ${gen.length} genuine (mean ${f(summarise(gen).mean)}, max ${f(summarise(gen).max)}), ${imp.length} impostor (mean ${f(summarise(imp).mean)}, min ${f(summarise(imp).min)})`,
  );
  console.log(`  crop pairs: AUC ${auc(gen, imp).toFixed(5)}, d' ${dPrime(gen, imp).toFixed(2)}, best threshold ${f(crops.threshold)} (accuracy ${crops.accuracy.toFixed(4)})`);
  console.log(
    `  group face vs crop: ${pgen.length} genuine (mean ${f(summarise(pgen).mean)}), ${pimp.length} impostor (mean ${f(summarise(pimp).mean)}, min ${f(summarise(pimp).min)}); AUC ${auc(pgen, pimp).toFixed(5)}, d' ${dPrime(pgen, pimp).toFixed(2)}`,
  );
  console.log(
    `  nearest own reference: max ${f(summarise(nearestOwn).max)}; nearest other person: min ${f(summarise(nearestOther).min)}; best threshold ${f(photos.threshold)} (accuracy ${photos.accuracy.toFixed(4)})`,
  );
}
