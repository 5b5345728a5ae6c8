import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** The entry that runs `npm start` with the fake Rekognition installed (fake-aws-entry.ts). */
export const fakeAwsEntry = 'services/embedded/dist-test-s3/test-s3/fake-aws-entry.js';

/**
 * A bucket of its own on the S3 server of scripts/services.sh (S3_ENDPOINT; `npm test` starts it),
 * created before the file's tests and emptied and removed after, and the environment that runs
 * the embedded profile with FACE_PROCESSING_BACKEND=aws_rekognition on it.
 */
export function fakeAwsDeployment(name: string): { bucket: string; env: Record<string, string>; keys(prefix?: string): Promise<string[]> } {
  const endpoint = process.env['S3_ENDPOINT'];
  if (!endpoint) throw new Error('S3_ENDPOINT is not set: these tests need the S3 server of scripts/services.sh (npm test starts it)');
  // moto takes any key; set in this process too, for S3 clients built from the default chain here
  process.env['AWS_ACCESS_KEY_ID'] ??= 'facewatch-test';
  process.env['AWS_SECRET_ACCESS_KEY'] ??= 'facewatch-test';
  const credentials = { AWS_ACCESS_KEY_ID: process.env['AWS_ACCESS_KEY_ID'], AWS_SECRET_ACCESS_KEY: process.env['AWS_SECRET_ACCESS_KEY'] };
  const bucket = `fw-${name}-${randomUUID().slice(0, 8)}`;
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: credentials.AWS_ACCESS_KEY_ID, secretAccessKey: credentials.AWS_SECRET_ACCESS_KEY },
  });
  const keys = async (prefix = ''): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      out.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return out.sort();
  };
  before(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    const all = await keys();
    if (all.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all.map((Key) => ({ Key })) } }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });
  return {
    bucket,
    keys,
    env: {
      FACE_PROCESSING_BACKEND: 'aws_rekognition',
      AWS_REGION: 'us-east-1',
      AWS_S3_BUCKET_NAME: bucket,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REKOGNITION_COLLECTION_ID: `collection-${bucket}`,
      ...credentials,
    },
  };
}
