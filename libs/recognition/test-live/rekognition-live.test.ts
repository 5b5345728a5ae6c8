import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { DeleteCollectionCommand } from '@aws-sdk/client-rekognition';
import { createLogger, type AwsConfig } from '@facewatch/core';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import {
  createRekognitionClient,
  createS3Client,
  defaultRetryPolicy,
  RekognitionBackend,
  RekognitionCollection,
  S3ReferenceStore,
  type SearchedFace,
} from '@facewatch/recognition';

// Opt-in, against REAL AWS (it costs a few cents): `npm run test:aws-live` with
//   FACEWATCH_AWS_LIVE=1, AWS_REGION, FACEWATCH_AWS_LIVE_BUCKET (an existing bucket you may write
//   to) and credentials in the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE…).
// It creates its own collection and prefix, enrols the 8 fixture people (one crop each), searches
// the 5 group photos, prints what it found, and deletes the collection and objects again.
// It is not part of `npm test`; run without the settings it fails and says what is missing.

const missing = ['FACEWATCH_AWS_LIVE', 'AWS_REGION', 'FACEWATCH_AWS_LIVE_BUCKET'].filter((v) => !process.env[v]);
if (missing.length > 0 || process.env['FACEWATCH_AWS_LIVE'] !== '1') {
  throw new Error(`the live AWS test needs ${missing.join(', ') || 'FACEWATCH_AWS_LIVE=1'} (see README, "AWS Rekognition backend")`);
}

const log = createLogger({ level: 'info', name: 'aws-live' });
const run = randomUUID().slice(0, 8);
const config: AwsConfig = {
  region: process.env['AWS_REGION']!,
  collectionId: `facewatch-live-${run}`,
  bucket: process.env['FACEWATCH_AWS_LIVE_BUCKET']!,
  s3Prefix: `facewatch-live-${run}/`,
  s3Endpoint: undefined,
  rekognitionEndpoint: undefined,
  faceMatchThreshold: 80,
  qualityFilter: 'AUTO',
  maxAttempts: 5,
};
const rekognition = createRekognitionClient({ region: config.region });
const s3 = createS3Client({ region: config.region });
const retry = defaultRetryPolicy(config.maxAttempts);
const references = new S3ReferenceStore({ client: s3, bucket: config.bucket, prefix: config.s3Prefix, log, retry });
let backend: RekognitionBackend;
const faceOwner = new Map<string, string>();

before(async () => {
  backend = await RekognitionBackend.open({
    collection: new RekognitionCollection({ client: rekognition, collectionId: config.collectionId, log, retry }),
    references,
    config,
    limits: { maxBytes: 25 * 1024 * 1024, maxPixels: 60_000_000 },
    log,
  });
});
after(async () => {
  for await (const key of references.list()) await references.delete([key]);
  await rekognition.send(new DeleteCollectionCommand({ CollectionId: config.collectionId })).catch((err: unknown) => log.error({ err }, 'collection not deleted'));
  rekognition.destroy();
  s3.destroy();
});

test('live: enrol one crop per person, then name the faces of the group photos', async () => {
  const people = [...new Set(identityImages().map((i) => i.person))];
  for (const person of people) {
    const image = identityImages().find((i) => i.person === person)!;
    const outcome = await backend.indexReference({ personId: person, imageId: randomUUID(), key: `${person}/${person}1.png`, bytes: new Uint8Array(readFileSync(image.path)) });
    assert.ok(outcome.indexed, `${person}: ${outcome.indexed ? '' : `${outcome.code} ${outcome.message}`}`);
    for (const face of outcome.faces) faceOwner.set(face.id, person);
  }
  let labelled = 0;
  let named = 0;
  let wrong = 0;
  for (const group of groupPhotos()) {
    const result = await backend.search(new Uint8Array(readFileSync(group.path)), { ...backend.resolveOptions(undefined), limit: 3 });
    assert.ok(result.faces.length >= group.minFaces - 1, `${group.file}: ${result.faces.length} faces`);
    // the labelled faces: the largest ones, left to right
    const faces = [...result.faces].sort((a, b) => b.facial_area.w * b.facial_area.h - a.facial_area.w * a.facial_area.h).slice(0, group.faces.length);
    faces.sort((a, b) => a.facial_area.x - b.facial_area.x);
    faces.forEach((face: SearchedFace, i) => {
      labelled++;
      const best = face.candidates[0] && faceOwner.get(face.candidates[0].faceId);
      if (best === group.faces[i]) named++;
      else if (best) wrong++;
      log.info({ group: group.file, expected: group.faces[i], got: best ?? null, distance: face.candidates[0]?.distance ?? null }, 'live search');
    });
  }
  console.log(`live Rekognition: ${named} of ${labelled} labelled faces named, ${wrong} wrong, at FaceMatchThreshold 80`);
  assert.equal(wrong, 0, 'no labelled face gets a wrong name');
  assert.ok(named >= labelled * 0.8, `${named} of ${labelled} named`);
});
