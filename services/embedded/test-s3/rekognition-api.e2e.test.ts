import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { apiSuite } from '../test/api-suite.js';
import { startEmbeddedProcess } from '../test/launch.js';

// The HTTP API suite of the local backend, unchanged where the behaviour is meant to be the same,
// against the embedded profile with FACE_PROCESSING_BACKEND=aws_rekognition: a real S3 server
// (moto, started by `npm test` through scripts/services.sh) keeps the reference images, and the
// Rekognition API is the fake of @facewatch/recognition/testing (see fake-aws-entry.ts).

const endpoint = process.env['S3_ENDPOINT'];
if (!endpoint) throw new Error('S3_ENDPOINT is not set: these tests need the S3 server of scripts/services.sh (npm test starts it)');
process.env['AWS_ACCESS_KEY_ID'] ??= 'facewatch-test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'facewatch-test';
const bucket = `fw-e2e-${randomUUID().slice(0, 8)}`;
const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
after(async () => {
  const all = await keys('');
  if (all.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all.map((Key) => ({ Key })) } }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  s3.destroy();
});

apiSuite(
  'embedded profile, aws_rekognition backend (fake Rekognition, S3 on moto)',
  (env) =>
    startEmbeddedProcess(
      {
        ...env,
        FACE_PROCESSING_BACKEND: 'aws_rekognition',
        AWS_REGION: 'us-east-1',
        AWS_S3_BUCKET_NAME: bucket,
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_REKOGNITION_COLLECTION_ID: `e2e-${bucket}`,
        AWS_ACCESS_KEY_ID: process.env['AWS_ACCESS_KEY_ID']!,
        AWS_SECRET_ACCESS_KEY: process.env['AWS_SECRET_ACCESS_KEY']!,
        // the first 2 calls of each face command are throttled: the suite passes only if they are retried
        FAKE_REKOGNITION_THROTTLE_FIRST: '2',
        AWS_MAX_ATTEMPTS: '4',
      },
      { entry: 'services/embedded/dist-test-s3/test-s3/fake-aws-entry.js' },
    ),
  {
    kind: 'aws_rekognition',
    // the fake's similarity at the local wide threshold 0.68: 100·(1 − 0.68·0.2/0.63) ≈ 78.4 → distance 0.216
    wideThreshold: 0.22,
    checkLog: (output) => {
      const retries = output.split('\n').filter((line) => line.includes('AWS call failed; retrying'));
      assert.equal(retries.length, 6, 'the 2 throttled calls of DetectFaces, SearchFacesByImage and IndexFaces were retried');
    },
    storedReferences: async (folder) => (await keys(`blacklist_db/${folder}/`)).map((k) => k.slice(`blacklist_db/${folder}/`.length)),
  },
);
