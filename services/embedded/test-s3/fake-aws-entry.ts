// The embedded profile with FACE_PROCESSING_BACKEND=aws_rekognition, where Rekognition itself is
// the fake of @facewatch/recognition/testing (AWS cannot be reached from tests) and S3 is real
// (moto, AWS_ENDPOINT_URL_S3). The fake finds and compares faces with facewatch's own models, in a
// face pool of its own: it stands for the AWS service, not for facewatch's code. Everything else
// is `npm start`'s main.js, unchanged.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { ThrottlingException } from '@aws-sdk/client-rekognition';
import { createLogger, loadConfig, projectRoot } from '@facewatch/core';
import { startFacePool } from '@facewatch/face';
import { createS3Client } from '@facewatch/recognition';
import { installFakeRekognition } from '@facewatch/recognition/testing';

const config = loadConfig();
const log = createLogger({ level: config.logLevel, name: 'fake-rekognition' });
const pool = await startFacePool({ ...config.face, pool: { ...config.face.pool, workers: 1 } }, log);
const fake = installFakeRekognition({ faces: pool, s3: createS3Client({ region: config.aws!.region, ...(config.aws!.s3Endpoint ? { endpoint: config.aws!.s3Endpoint } : {}) }) });
// FAKE_REKOGNITION_THROTTLE_FIRST=n: the first n calls of each face command are throttled, as AWS
// does past its TPS quota; facewatch must retry them (AWS_MAX_ATTEMPTS) and answer as usual
const throttled = Number(process.env['FAKE_REKOGNITION_THROTTLE_FIRST'] ?? 0);
for (const command of ['DetectFaces', 'SearchFacesByImage', 'IndexFaces']) {
  if (throttled > 0) fake.failNext(command, new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }), throttled);
}
process.once('exit', () => void pool.close());
await import(pathToFileURL(resolve(projectRoot(), 'services/embedded/dist/main.js')).href);
