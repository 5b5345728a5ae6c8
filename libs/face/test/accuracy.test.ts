import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { defaultMaxDistance, distance, type EmbeddingVector, type FacePool } from '@facewatch/face';
import { auc, bestThreshold, dPrime, groupPhotos, identityImages, labelFaces } from '@facewatch/face/testing';
import { startTestPool } from './helpers.js';

type Ref = EmbeddingVector & { person: string };
let pool: FacePool;
let refs: Ref[];

before(async () => {
  pool = await startTestPool();
  refs = await Promise.all(
    identityImages().map(async (img) => {
      const r = await pool.analyse(readFileSync(img.path), { embed: true });
      const face = r.faces[0]!;
      assert.equal(face.embedding!.length, 512);
      return { person: img.person, embedding: face.embedding!, norm: face.norm! };
    }),
  );
});
after(() => pool.close());

test('embeddings are unit length', () => {
  for (const r of refs) {
    const n = Math.sqrt(Array.from(r.embedding).reduce((a, v) => a + v * v, 0));
    assert.ok(Math.abs(n - 1) < 1e-5, `norm ${n}`);
  }
});

test('verification over all 780 identity-crop pairs: AUC ≥ 0.999 (cosine)', (t) => {
  const genuine: number[] = [],
    impostor: number[] = [];
  for (let i = 0; i < refs.length; i++)
    for (let j = i + 1; j < refs.length; j++) (refs[i]!.person === refs[j]!.person ? genuine : impostor).push(distance('cosine', refs[i]!, refs[j]!));
  assert.equal(genuine.length + impostor.length, 780);
  assert.equal(genuine.length, 80);
  const a = auc(genuine, impostor);
  const best = bestThreshold(genuine, impostor);
  const atDefault = {
    falseRejects: genuine.filter((d) => d > defaultMaxDistance('cosine')).length,
    falseAccepts: impostor.filter((d) => d <= defaultMaxDistance('cosine')).length,
  };
  t.diagnostic(`AUC ${a.toFixed(5)}, d' ${dPrime(genuine, impostor).toFixed(2)}, best cosine threshold ${best.threshold.toFixed(4)} (accuracy ${best.accuracy.toFixed(4)})`);
  t.diagnostic(`at the default ${defaultMaxDistance('cosine')}: ${atDefault.falseRejects} false rejects, ${atDefault.falseAccepts} false accepts`);
  assert.ok(a >= 0.999, `AUC ${a}`);
  assert.ok(dPrime(genuine, impostor) > 4, 'genuine and impostor distances should be well separated');
  // the default must not be far from what the fixtures say
  assert.ok(atDefault.falseRejects + atDefault.falseAccepts <= 4, JSON.stringify(atDefault));
});

test('identification: every labelled group face is nearest to its own person (22 of 22)', async (t) => {
  let labelled = 0,
    correct = 0,
    cleared = 0;
  const wrong: string[] = [];
  for (const group of groupPhotos()) {
    const r = await pool.analyse(readFileSync(group.path), { embed: true });
    for (const { person, face } of labelFaces(r.faces, group)) {
      labelled++;
      let bestPerson = '',
        best = Infinity;
      for (const ref of refs) {
        const d = distance('cosine', { embedding: face.embedding!, norm: face.norm! }, ref);
        if (d < best) [best, bestPerson] = [d, ref.person];
      }
      if (bestPerson === person) correct++;
      else wrong.push(`${group.file}: ${person} → ${bestPerson} (${best.toFixed(3)})`);
      if (bestPerson === person && best <= defaultMaxDistance('cosine')) cleared++;
    }
  }
  t.diagnostic(`${correct} of ${labelled} labelled faces identified; ${cleared} clear the default cosine threshold ${defaultMaxDistance('cosine')}`);
  assert.equal(labelled, 22);
  assert.deepEqual(wrong, []);
  assert.ok(cleared >= 18, `${cleared} of 22 clear the default threshold`);
});
