import assert from 'node:assert/strict';
import { apiSuite } from '../test/api-suite.js';
import { startEmbeddedProcess } from '../test/launch.js';
import { fakeAwsDeployment, fakeAwsEntry } from './fake-aws.js';

// The HTTP API suite of the local backend, unchanged where the behaviour is meant to be the same,
// against the embedded profile with FACE_PROCESSING_BACKEND=aws_rekognition: a real S3 server
// (moto, started by `npm test` through scripts/services.sh) keeps the reference images, and the
// Rekognition API is the fake of @facewatch/recognition/testing (see fake-aws-entry.ts).

const aws = fakeAwsDeployment('e2e');

apiSuite(
  'embedded profile, aws_rekognition backend (fake Rekognition, S3 on moto)',
  (env) =>
    startEmbeddedProcess(
      {
        ...env,
        ...aws.env,
        // the first 2 calls of each face command are throttled: the suite passes only if they are retried
        FAKE_REKOGNITION_THROTTLE_FIRST: '2',
        AWS_MAX_ATTEMPTS: '4',
      },
      { entry: fakeAwsEntry },
    ),
  {
    kind: 'aws_rekognition',
    // the fake's similarity at the local wide threshold 0.68: 100·(1 − 0.68·0.2/0.63) ≈ 78.4 → distance 0.216
    wideThreshold: 0.22,
    checkLog: (output) => {
      const retries = output.split('\n').filter((line) => line.includes('AWS call failed; retrying'));
      assert.equal(retries.length, 6, 'the 2 throttled calls of DetectFaces, SearchFacesByImage and IndexFaces were retried');
    },
    storedReferences: async (folder) => (await aws.keys(`blacklist_db/${folder}/`)).map((k) => k.slice(`blacklist_db/${folder}/`.length)),
  },
);
