import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CompareFacesCommand,
  CreateCollectionCommand,
  DescribeCollectionCommand,
  IndexFacesCommand,
  InvalidParameterException,
  RekognitionClient,
  ResourceNotFoundException,
  SearchFacesByImageCommand,
  ThrottlingException,
} from '@aws-sdk/client-rekognition';
import { loadConfig, projectRoot } from '@facewatch/core';
import { startFacePool, type FacePool } from '@facewatch/face';
import { identityImages, noFaceImage } from '@facewatch/face/testing';
import { serveFakeRekognition, type FakeRekognitionServer } from '@facewatch/recognition/testing';

// The fake served over HTTP in Rekognition's wire protocol, driven by an unmodified SDK client
// pointed at it: bytes go base64 in JSON, answers and errors come back through the SDK's own
// deserialisers (as for several facewatch processes sharing one fake).

let pool: FacePool;
let server: FakeRekognitionServer;
let client: RekognitionClient;

before(async () => {
  const env = { ...process.env };
  const mirror = resolve(projectRoot(), '..', 'shared', 'models');
  if (!env.MODELS_MIRROR && existsSync(mirror)) env.MODELS_MIRROR = mirror;
  const face = loadConfig(env).face;
  pool = await startFacePool({ ...face, pool: { ...face.pool, workers: 1 } });
  server = await serveFakeRekognition({ faces: pool });
  client = new RekognitionClient({ region: 'eu-west-1', endpoint: server.url, maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});
after(async () => {
  client?.destroy();
  await server?.close();
  await pool?.close();
});

test('collections, IndexFaces and SearchFacesByImage over the wire, with the SDK deserialising the answers', async () => {
  await assert.rejects(client.send(new DescribeCollectionCommand({ CollectionId: 'wire' })), (err) => err instanceof ResourceNotFoundException);
  const created = await client.send(new CreateCollectionCommand({ CollectionId: 'wire' }));
  assert.equal(created.CollectionArn, 'aws:rekognition:eu-west-1:123456789012:collection/wire', 'the region is read from the signature');
  const described = await client.send(new DescribeCollectionCommand({ CollectionId: 'wire' }));
  assert.ok(described.CreationTimestamp instanceof Date);
  const [amy1, amy2] = identityImages().filter((i) => i.person === 'amy');
  const indexed = await client.send(new IndexFacesCommand({ CollectionId: 'wire', Image: { Bytes: readFileSync(amy1!.path) }, ExternalImageId: 'amy', QualityFilter: 'AUTO' }));
  assert.equal(indexed.FaceRecords?.length, 1);
  const found = await client.send(new SearchFacesByImageCommand({ CollectionId: 'wire', Image: { Bytes: readFileSync(amy2!.path) }, FaceMatchThreshold: 80 }));
  assert.equal(found.FaceMatches?.[0]?.Face?.FaceId, indexed.FaceRecords![0]!.Face!.FaceId);
  assert.ok(found.FaceMatches![0]!.Similarity! >= 80);
  assert.equal(server.faceCount('wire'), 1);
  const compared = await client.send(
    new CompareFacesCommand({ SourceImage: { Bytes: readFileSync(amy1!.path) }, TargetImage: { Bytes: readFileSync(amy2!.path) }, SimilarityThreshold: 0 }),
  );
  assert.ok(compared.FaceMatches![0]!.Similarity! >= 80, 'both images of CompareFaces travel as base64');
});

test('errors come back as the SDK exceptions: no face, throttling', async () => {
  await assert.rejects(
    client.send(new SearchFacesByImageCommand({ CollectionId: 'wire', Image: { Bytes: readFileSync(noFaceImage()) } })),
    (err) => err instanceof InvalidParameterException && /no faces/.test((err as Error).message),
  );
  server.failNext('SearchFacesByImage', new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
  await assert.rejects(
    client.send(new SearchFacesByImageCommand({ CollectionId: 'wire', Image: { Bytes: readFileSync(noFaceImage()) } })),
    (err) => err instanceof ThrottlingException,
  );
  assert.deepEqual(
    server.calls.slice(-2).map((c) => c.name),
    ['SearchFacesByImage', 'SearchFacesByImage'],
  );
});
