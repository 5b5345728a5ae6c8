import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { after, before, describe, test } from 'node:test';
import type { DetectorName } from '@facewatch/core';
import { toFacialArea, type AnalysedFace, type FacePool } from '@facewatch/face';
import { expressionImages, groupPhotos, identityImages, noFaceImage } from '@facewatch/face/testing';
import { startTestPool } from './helpers.js';

let pool: FacePool;
before(async () => {
  pool = await startTestPool();
});
after(() => pool.close());

function assertAnatomical(face: AnalysedFace, where: string): void {
  const a = toFacialArea(face);
  const inside = (p: [number, number]): boolean => p[0] >= a.x - 2 && p[0] <= a.x + a.w + 2 && p[1] >= a.y - 2 && p[1] <= a.y + a.h + 2;
  for (const k of ['left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right'] as const) assert.ok(inside(a[k]), `${where}: ${k} ${a[k]} outside box ${JSON.stringify(a)}`);
  // deepface convention: the person's left eye / mouth corner is on the image's right
  assert.ok(a.left_eye[0] > a.right_eye[0], `${where}: left_eye should be right of right_eye`);
  assert.ok(a.mouth_left[0] > a.mouth_right[0], `${where}: mouth_left should be right of mouth_right`);
  const eyesY = (a.left_eye[1] + a.right_eye[1]) / 2;
  const mouthY = (a.mouth_left[1] + a.mouth_right[1]) / 2;
  assert.ok(eyesY < a.nose[1] && a.nose[1] < mouthY, `${where}: expected eyes above nose above mouth`);
}

for (const detector of ['yunet', 'ultraface'] as DetectorName[]) {
  describe(`detector ${detector}`, () => {
    for (const group of groupPhotos()) {
      test(`${group.file}: ${group.minFaces}..${group.maxFaces} faces with anatomical landmarks`, async (t) => {
        const r = await pool.analyse(readFileSync(group.path), { detector, embed: false });
        t.diagnostic(`${group.file}: ${r.faces.length} faces, scores ${r.faces.map((f) => f.score.toFixed(2)).join(' ')}`);
        assert.ok(r.faces.length >= group.minFaces && r.faces.length <= group.maxFaces, `${r.faces.length} faces`);
        assert.equal(r.detector, detector);
        for (const [i, face] of r.faces.entries()) {
          assertAnatomical(face, `${group.file}#${i}`);
          assert.ok(face.box.x >= 0 && face.box.y >= 0 && face.box.x + face.box.w <= r.width && face.box.y + face.box.h <= r.height);
        }
      });
    }

    test('no face in a blank image', async () => {
      const r = await pool.analyse(readFileSync(noFaceImage()), { detector, embed: true });
      assert.equal(r.faces.length, 0);
    });

    // UltraFace sees the whole image stretched to 320x240: on tight 150-px crops it adds partial
    // boxes and misses one, so it is held to the expression shots only.
    test(`one face in each ${detector === 'yunet' ? 'identity crop and ' : ''}expression shot`, async () => {
      const paths = [...(detector === 'yunet' ? identityImages().map((i) => i.path) : []), ...expressionImages()];
      const results = await Promise.all(paths.map((p) => pool.analyse(readFileSync(p), { detector, embed: false })));
      results.forEach((r, i) => assert.equal(r.faces.length, 1, `${paths[i]}: ${r.faces.length} faces`));
      results.forEach((r, i) => assertAnatomical(r.faces[0]!, paths[i]!));
    });
  });
}

test('coordinates are in original pixels when the working image is shrunk', async () => {
  const group = groupPhotos().find((g) => g.file.endsWith('bbt1.jpg'))!; // 1366x768
  const bytes = readFileSync(group.path);
  const full = await pool.analyse(bytes, { embed: false });
  const small = await startTestPool({ DECODE_MAX_SIDE: '683', FACE_WORKERS: '1' });
  try {
    const halved = await small.analyse(bytes, { embed: false });
    assert.equal(halved.width, 1366);
    assert.equal(halved.faces.length, full.faces.length);
    const byX = (fs: AnalysedFace[]): AnalysedFace[] => [...fs].sort((a, b) => a.box.x - b.box.x);
    byX(full.faces).forEach((f, i) => {
      const g = byX(halved.faces)[i]!;
      assert.ok(Math.abs(f.box.x - g.box.x) < 0.08 * f.box.w, `face ${i}: x ${f.box.x} vs ${g.box.x}`);
      assert.ok(Math.abs(f.box.w - g.box.w) < 0.15 * f.box.w, `face ${i}: w ${f.box.w} vs ${g.box.w}`);
    });
  } finally {
    await small.close();
  }
});

test("a large JPEG is decoded at the detector's size and its small faces again by region: the same faces and embeddings", async () => {
  // bbt1 enlarged 3x (4098x2304): detected on a 640-px decode; its faces (eye distance ≈ 130 px,
  // under 2 source pixels per aligned pixel at 640 px) are aligned from a region decode at 1280 px
  const group = groupPhotos().find((g) => g.file.endsWith('bbt1.jpg'))!;
  const bytes = readFileSync(group.path);
  const big = await sharp(bytes)
    .resize(1366 * 3, 768 * 3)
    .jpeg({ quality: 92 })
    .toBuffer();
  const [small, large] = await Promise.all([pool.analyse(bytes, { embed: true, evidence: true }), pool.analyse(big, { embed: true, evidence: true })]);
  assert.equal(large.width, 4098);
  assert.equal(large.faces.length, small.faces.length);
  for (const f of small.faces) {
    const g = large.faces.find(
      (h) => Math.abs(h.box.x + h.box.w / 2 - 3 * (f.box.x + f.box.w / 2)) < 0.75 * f.box.w && Math.abs(h.box.y + h.box.h / 2 - 3 * (f.box.y + f.box.h / 2)) < 0.75 * f.box.h,
    );
    assert.ok(g, `face at ${f.box.x},${f.box.y} found in the enlarged photo`);
    let cos = 0;
    for (let i = 0; i < 512; i++) cos += f.embedding![i]! * g.embedding![i]!;
    assert.ok(cos > 0.98, `face at ${f.box.x},${f.box.y}: cosine ${cos} between the photo and its enlargement`);
    assert.ok(g.evidence!.context.length > 1000 && g.evidence!.aligned.length > 1000);
  }
});
