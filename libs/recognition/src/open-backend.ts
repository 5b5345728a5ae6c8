import type { AppConfig, Logger } from '@facewatch/core';
import type { Store } from '@facewatch/db';
import { startFacePool } from '@facewatch/face';
import { defaultRetryPolicy } from './aws/aws-calls.js';
import { createRekognitionClient, RekognitionCollection } from './aws/rekognition-collection.js';
import { RekognitionBackend } from './aws/rekognition-backend.js';
import { createS3Client, S3ReferenceStore } from './aws/s3-reference-store.js';
import type { FaceBackend } from './backend.js';
import { LocalBackend } from './local/local-backend.js';

/**
 * The backend FACE_PROCESSING_BACKEND names. `local` starts the inference worker pool (loading,
 * and if allowed fetching, the models); `aws_rekognition` builds the AWS clients (credentials from
 * the standard chain), creates the collection if missing and checks the bucket. close() releases
 * what it started.
 */
export async function openFaceBackend(config: AppConfig, store: Store, log: Logger): Promise<FaceBackend> {
  if (config.backend === 'aws_rekognition') {
    const aws = config.aws!;
    const retry = defaultRetryPolicy(aws.maxAttempts);
    const rekognition = createRekognitionClient({ region: aws.region, ...(aws.rekognitionEndpoint ? { endpoint: aws.rekognitionEndpoint } : {}) });
    const s3 = createS3Client({ region: aws.region, ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint } : {}) });
    const awsLog = log.child({ component: 'aws' });
    try {
      return await RekognitionBackend.open({
        collection: new RekognitionCollection({ client: rekognition, collectionId: aws.collectionId, log: awsLog, retry }),
        references: new S3ReferenceStore({ client: s3, bucket: aws.bucket, prefix: aws.s3Prefix, log: awsLog, retry }),
        config: aws,
        limits: { maxBytes: config.face.decode.maxBytes, maxPixels: config.face.decode.maxPixels },
        log,
        onClose: () => {
          rekognition.destroy();
          s3.destroy();
        },
      });
    } catch (err) {
      rekognition.destroy();
      s3.destroy();
      throw err;
    }
  }
  const pool = await startFacePool(config.face, log);
  return new LocalBackend({ faces: pool, store, config: config.face, referenceGates: config.decision.referenceGates });
}
