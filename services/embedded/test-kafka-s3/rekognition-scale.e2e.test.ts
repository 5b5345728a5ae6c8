import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ThrottlingException } from '@aws-sdk/client-rekognition';
import { createLogger, loadConfig } from '@facewatch/core';
import { startFacePool, type FacePool } from '@facewatch/face';
import { createS3Client } from '@facewatch/recognition';
import { serveFakeRekognition, type FakeRekognitionServer } from '@facewatch/recognition/testing';
import { apiSuite } from '../test/api-suite.js';
import { startScaleProcesses } from '../test/launch.js';
import { fakeAwsDeployment } from '../test-s3/fake-aws.js';

// The HTTP API suite against the scale profile — api, matcher and ingest processes on Kafka and
// PostgreSQL — with FACE_PROCESSING_BACKEND=aws_rekognition: the api enrols into the collection,
// the matcher searches it. Rekognition is the fake of @facewatch/recognition/testing served over
// HTTP in Rekognition's wire protocol (AWS_ENDPOINT_URL_REKOGNITION), so both processes share one
// collection and the SDK's real serialisation runs; S3 is moto.

const deployment = fakeAwsDeployment('scale');
let pool: FacePool | undefined;
let fake: FakeRekognitionServer | undefined;

apiSuite(
  'scale profile (Kafka + PostgreSQL), aws_rekognition backend (fake Rekognition over HTTP, S3 on moto)',
  async (env) => {
    const config = loadConfig(process.env);
    pool = await startFacePool({ ...config.face, pool: { ...config.face.pool, workers: 1 } }, createLogger({ level: 'warn' }));
    fake = await serveFakeRekognition({ faces: pool, s3: createS3Client({ region: 'us-east-1', endpoint: deployment.env['AWS_ENDPOINT_URL_S3']! }) });
    // the first 2 calls of each face command are throttled, whichever process makes them
    for (const command of ['DetectFaces', 'SearchFacesByImage', 'IndexFaces'])
      fake.failNext(command, new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }), 2);
    return startScaleProcesses({ ...env, ...deployment.env, AWS_ENDPOINT_URL_REKOGNITION: fake.url, AWS_MAX_ATTEMPTS: '4' });
  },
  {
    kind: 'aws_rekognition',
    wideThreshold: 0.22,
    checkLog: (output) => {
      const retries = output.split('\n').filter((line) => line.includes('AWS call failed; retrying'));
      assert.equal(retries.length, 6, 'the 2 throttled calls of DetectFaces, SearchFacesByImage and IndexFaces were retried');
      const operations = new Set(fake!.calls.map((c) => c.name));
      for (const op of ['DescribeCollection', 'CreateCollection', 'ListFaces', 'IndexFaces', 'DetectFaces', 'SearchFacesByImage', 'DeleteFaces'])
        assert.ok(operations.has(op), `${op} went over the wire`);
    },
    storedReferences: async (folder) => (await deployment.keys(`blacklist_db/${folder}/`)).map((k) => k.slice(`blacklist_db/${folder}/`.length)),
  },
);

after(async () => {
  await fake?.close();
  await pool?.close();
});
