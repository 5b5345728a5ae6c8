import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  CompareFacesCommand,
  CreateCollectionCommand,
  DeleteFacesCommand,
  DescribeCollectionCommand,
  DetectFacesCommand,
  IndexFacesCommand,
  InvalidParameterException,
  ListFacesCommand,
  RekognitionClient,
  ResourceNotFoundException,
  SearchFacesByImageCommand,
  ThrottlingException,
  type FaceDetail,
} from '@aws-sdk/client-rekognition';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import { createLogger, ErrorCode, type AwsConfig } from '@facewatch/core';
import { groupPhotos, identityImages, noFaceImage } from '@facewatch/face/testing';
import { createS3Client, cropRegion, RekognitionBackend, RekognitionCollection, S3ReferenceStore, type AwsRetryPolicy } from '@facewatch/recognition';

// The Rekognition backend with the Rekognition API mocked at the SDK (aws-sdk-client-mock, answers
// shaped like the API reference's examples) and the reference images in a real S3 server (moto,
// S3_ENDPOINT). Each test asserts what was sent to Rekognition and what reached S3.

const endpoint = process.env['S3_ENDPOINT'];
if (!endpoint) throw new Error('S3_ENDPOINT is not set: start moto with `bash scripts/services.sh up s3`, or run `node scripts/test.mjs`');
process.env['AWS_ACCESS_KEY_ID'] ??= 'facewatch-test';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'facewatch-test';

const log = createLogger({ level: 'silent' });
const bucket = `fw-backend-${randomBytes(4).toString('hex')}`;
const s3 = createS3Client({ region: 'us-east-1', endpoint });
const config: AwsConfig = {
  region: 'us-east-1',
  collectionId: 'facewatch-test',
  bucket,
  s3Prefix: 'blacklist_db/',
  s3Endpoint: endpoint,
  rekognitionEndpoint: undefined,
  faceMatchThreshold: 80,
  qualityFilter: 'AUTO',
  maxAttempts: 3,
};
const fast: AwsRetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, sleep: async () => undefined };
const limits = { maxBytes: 50 * 1024 * 1024, maxPixels: 60_000_000 };

const client = new RekognitionClient({ region: 'us-east-1', maxAttempts: 1 });
const rekognition = mockClient(client);
const references = new S3ReferenceStore({ client: s3, bucket, prefix: config.s3Prefix, log, retry: fast });

async function open(options: { searchConcurrency?: number; config?: Partial<AwsConfig> } = {}): Promise<RekognitionBackend> {
  return RekognitionBackend.open({
    collection: new RekognitionCollection({ client, collectionId: config.collectionId, log, retry: fast }),
    references,
    config: { ...config, ...options.config },
    limits,
    log,
    searchConcurrency: options.searchConcurrency ?? 1,
  });
}

async function objects(): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

/** A FaceDetail as DetectFaces returns it (DEFAULT attributes), for a face at the given ratios. */
function faceDetail(left: number, top: number, width: number, height: number, confidence: number): FaceDetail {
  return {
    BoundingBox: { Left: left, Top: top, Width: width, Height: height },
    Confidence: confidence,
    // Rekognition's eyeLeft is the one on the image's left
    Landmarks: [
      { Type: 'eyeLeft', X: left + width * 0.3, Y: top + height * 0.4 },
      { Type: 'eyeRight', X: left + width * 0.7, Y: top + height * 0.4 },
      { Type: 'nose', X: left + width * 0.5, Y: top + height * 0.6 },
      { Type: 'mouthLeft', X: left + width * 0.35, Y: top + height * 0.8 },
      { Type: 'mouthRight', X: left + width * 0.65, Y: top + height * 0.8 },
    ],
    Pose: { Roll: 1.2, Yaw: -3.4, Pitch: 5.1 },
    Quality: { Brightness: 74.1, Sharpness: 83.1 },
  };
}

const describeOk = {
  FaceCount: 0,
  FaceModelVersion: '7.0',
  CollectionARN: `arn:aws:rekognition:us-east-1:123456789012:collection/${config.collectionId}`,
  CreationTimestamp: new Date(),
};

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
after(async () => {
  const keys = await objects();
  if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  s3.destroy();
});
beforeEach(() => {
  rekognition.reset();
  rekognition.on(DescribeCollectionCommand).resolves(describeOk);
});

describe('opening', () => {
  test('creates the collection when it is missing', async () => {
    rekognition
      .on(DescribeCollectionCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'The collection id: facewatch-test does not exist', $metadata: {} }))
      .resolves(describeOk);
    rekognition.on(CreateCollectionCommand).resolves({ StatusCode: 200, CollectionArn: describeOk.CollectionARN, FaceModelVersion: '7.0' });
    await open();
    assert.deepEqual(
      rekognition.commandCalls(CreateCollectionCommand).map((c) => c.args[0].input),
      [{ CollectionId: 'facewatch-test' }],
    );
  });

  test('an existing collection is used as it is', async () => {
    await open();
    assert.equal(rekognition.commandCalls(CreateCollectionCommand).length, 0);
  });

  test('readiness looks and never creates: a collection deleted behind facewatch is reported', async () => {
    const backend = await open();
    rekognition.on(DescribeCollectionCommand).rejects(new ResourceNotFoundException({ message: 'The collection id: facewatch-test does not exist', $metadata: {} }));
    assert.deepEqual(await backend.readiness(), { ready: false, detail: { collection: 'facewatch-test', error: 'COLLECTION_MISSING' } });
    assert.equal(rekognition.commandCalls(CreateCollectionCommand).length, 0);
    rekognition.on(DescribeCollectionCommand).resolves({ ...describeOk, FaceCount: 3 });
    const fresh = await open();
    assert.deepEqual(await fresh.readiness(), { ready: true, detail: { collection: 'facewatch-test', faces: 3 } });
  });
});

describe('options', () => {
  test('names, the similarity formula and foreign options', async () => {
    const backend = await open();
    assert.deepEqual(backend.resolveOptions(undefined), {
      model: 'aws_rekognition',
      detector: 'aws_rekognition',
      metric: 'rekognition_similarity',
      maxDistance: 0.2,
      explicitThreshold: true,
    });
    assert.equal(backend.resolveOptions({ threshold: 0.05 }).maxDistance, 0.05);
    assert.equal((await open({ config: { faceMatchThreshold: 99 } })).resolveOptions({}).maxDistance, 0.01);
    assert.throws(() => backend.resolveOptions({ detector_backend: 'yunet' }), { code: ErrorCode.UNSUPPORTED_BY_BACKEND });
    assert.throws(() => backend.resolveOptions({ distance_metric: 'cosine' }), { code: ErrorCode.UNSUPPORTED_BY_BACKEND });
    assert.throws(() => backend.resolveOptions({ detector_backend: 'retinaface' }), { code: ErrorCode.INVALID_ARGUMENT });
    assert.throws(() => backend.resolveOptions({ threshold: 1.5 }), { code: ErrorCode.INVALID_ARGUMENT });
  });
});

describe('search: every face, not only the largest', () => {
  const group = groupPhotos().find((g) => g.file.endsWith('bbt1.jpg'))!;
  const bytes = new Uint8Array(readFileSync(group.path));
  const boxes = [
    { left: 0.1, top: 0.2, width: 0.1, height: 0.18, confidence: 99.1 },
    { left: 0.4, top: 0.15, width: 0.12, height: 0.2, confidence: 99.9 },
    { left: 0.7, top: 0.3, width: 0.03, height: 0.05, confidence: 97.0 },
  ];

  test('DetectFaces once, then one SearchFacesByImage per face on its crop, with an explicit FaceMatchThreshold', async () => {
    rekognition.on(DetectFacesCommand).resolves({ FaceDetails: boxes.map((b) => faceDetail(b.left, b.top, b.width, b.height, b.confidence)) });
    const amyFace = randomUUID();
    const rajFace = randomUUID();
    rekognition
      .on(SearchFacesByImageCommand)
      .resolvesOnce({
        SearchedFaceBoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 },
        SearchedFaceConfidence: 99.9,
        FaceMatches: [
          {
            Similarity: 97.5,
            Face: { FaceId: amyFace, ExternalImageId: 'p-amy', ImageId: randomUUID(), Confidence: 99.9, BoundingBox: { Left: 0.1, Top: 0.1, Width: 0.8, Height: 0.8 } },
          },
          {
            Similarity: 81.25,
            Face: { FaceId: rajFace, ExternalImageId: 'p-raj', ImageId: randomUUID(), Confidence: 99.8, BoundingBox: { Left: 0.1, Top: 0.1, Width: 0.8, Height: 0.8 } },
          },
        ],
        FaceModelVersion: '7.0',
      })
      .resolvesOnce({ SearchedFaceBoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 }, SearchedFaceConfidence: 99.0, FaceMatches: [], FaceModelVersion: '7.0' })
      .rejectsOnce(new InvalidParameterException({ message: 'There are no faces in the image. Should be at least 1.', $metadata: {} }));
    const backend = await open();
    const result = await backend.search(bytes, { ...backend.resolveOptions(undefined), limit: 5 });

    const detect = rekognition.commandCalls(DetectFacesCommand);
    assert.equal(detect.length, 1);
    assert.deepEqual(detect[0]!.args[0].input.Attributes, ['DEFAULT']);
    assert.deepEqual(Buffer.from(detect[0]!.args[0].input.Image!.Bytes!), Buffer.from(bytes), 'a JPEG within the limits is sent as it is');

    const searches = rekognition.commandCalls(SearchFacesByImageCommand);
    assert.equal(searches.length, 3, 'one search per detected face');
    const order = [...boxes].sort((a, b) => b.confidence - a.confidence);
    for (const [i, call] of searches.entries()) {
      const input = call.args[0].input;
      assert.deepEqual([input.CollectionId, input.FaceMatchThreshold, input.MaxFaces, input.QualityFilter], ['facewatch-test', 80, 25, 'NONE']);
      // the crop is the face with its margin, enlarged when small
      const b = order[i]!;
      const [region, scale] = cropRegion({ x: b.left * 1366, y: b.top * 768, w: b.width * 1366, h: b.height * 768 }, 1366, 768);
      const meta = await sharp(Buffer.from(input.Image!.Bytes!)).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.deepEqual([meta.width, meta.height], [Math.round(region.width * (scale > 1 ? scale : 1)), Math.round(region.height * (scale > 1 ? scale : 1))]);
    }
    assert.ok(searches.some((c) => c.args[0].input.Image!.Bytes!.length > 0));

    assert.deepEqual([result.width, result.height, result.format], [1366, 768, 'jpeg']);
    assert.deepEqual(
      result.faces.map((f) => f.confidence),
      [0.999, 0.991, 0.97],
      'most confident first',
    );
    assert.deepEqual(result.faces[0]!.candidates, [
      { faceId: amyFace, distance: 0.025 },
      { faceId: rajFace, distance: 0.1875 },
    ]);
    assert.deepEqual(result.faces[1]!.candidates, []);
    assert.deepEqual(result.faces[2]!.candidates, [], 'a crop Rekognition finds no face in has no candidates');
    const area = result.faces[0]!.facial_area;
    assert.deepEqual(
      [area.x, area.y, area.w, area.h],
      [Math.round(0.4 * 1366), Math.round(0.15 * 768), Math.round(0.52 * 1366) - Math.round(0.4 * 1366), Math.round(0.35 * 768) - Math.round(0.15 * 768)],
    );
    assert.ok(area.left_eye[0] > area.right_eye[0], "left_eye is the person's left, the image's right");
  });

  test("a request's threshold becomes FaceMatchThreshold; weaker matches are dropped", async () => {
    rekognition.on(DetectFacesCommand).resolves({ FaceDetails: [faceDetail(0.3, 0.2, 0.2, 0.3, 99.5)] });
    rekognition.on(SearchFacesByImageCommand).resolves({
      FaceMatches: [{ Similarity: 92, Face: { FaceId: randomUUID(), Confidence: 99 } }],
      SearchedFaceBoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 },
      SearchedFaceConfidence: 99,
    });
    const backend = await open();
    const result = await backend.search(bytes, { ...backend.resolveOptions({ threshold: 0.05 }), limit: 2 });
    const input = rekognition.commandCalls(SearchFacesByImageCommand)[0]!.args[0].input;
    assert.deepEqual([input.FaceMatchThreshold, input.MaxFaces], [95, 10]);
    assert.deepEqual(result.faces[0]!.candidates, [], 'similarity 92 is distance 0.08 > 0.05');
  });

  test('an image without a face: no search at all', async () => {
    rekognition.on(DetectFacesCommand).resolves({ FaceDetails: [] });
    const backend = await open();
    const result = await backend.search(new Uint8Array(readFileSync(noFaceImage())), { ...backend.resolveOptions(undefined), limit: 5 });
    assert.deepEqual(result.faces, []);
    assert.equal(rekognition.commandCalls(SearchFacesByImageCommand).length, 0);
  });

  test('throttling is retried with back-off; when it lasts, BACKEND_UNAVAILABLE (retryable)', async () => {
    const throttled = () => new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    rekognition.on(DetectFacesCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ FaceDetails: [] });
    const backend = await open();
    assert.deepEqual((await backend.detect(bytes)).faces, []);
    assert.equal(rekognition.commandCalls(DetectFacesCommand).length, 3);
    rekognition.on(DetectFacesCommand).rejects(throttled());
    await assert.rejects(backend.detect(bytes), (err: { code: string; retryable: boolean }) => err.code === ErrorCode.BACKEND_UNAVAILABLE && err.retryable);
  });

  test("images outside Rekognition's limits are converted: WebP and a 14 MB PNG become JPEG within 5 MB, same aspect ratio", async () => {
    rekognition.on(DetectFacesCommand).resolves({ FaceDetails: [] });
    const backend = await open();
    const webp = new Uint8Array(await sharp(group.path).webp().toBuffer());
    const noise = new Uint8Array(
      await sharp(randomBytes(2400 * 2000 * 3), { raw: { width: 2400, height: 2000, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer(),
    );
    assert.ok(noise.length > 5 * 1024 * 1024, `${noise.length} bytes`);
    for (const [image, size] of [
      [webp, [1366, 768]],
      [noise, [2400, 2000]],
    ] as const) {
      rekognition.resetHistory();
      const result = await backend.detect(image);
      assert.deepEqual([result.width, result.height], size, 'reported in the original pixels');
      const sent = Buffer.from(rekognition.commandCalls(DetectFacesCommand)[0]!.args[0].input.Image!.Bytes!);
      const meta = await sharp(sent).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.ok(sent.length <= 5 * 1024 * 1024, `${sent.length} bytes sent`);
      assert.ok(Math.abs(meta.width! / meta.height! - size[0] / size[1]) < 0.01);
    }
    rekognition.resetHistory();
    await assert.rejects(backend.detect(new TextEncoder().encode('not an image at all, just text')), { code: ErrorCode.IMAGE_UNSUPPORTED_FORMAT });
    assert.equal(rekognition.commandCalls(DetectFacesCommand).length, 0, 'nothing is sent for a file that is not an image');
  });
});

describe('verify: CompareFaces', () => {
  const [amy1, amy2] = identityImages().filter((i) => i.person === 'amy');
  const a = new Uint8Array(readFileSync(amy1!.path));
  const b = new Uint8Array(readFileSync(amy2!.path));

  test('both images in one call, SimilarityThreshold 0; the best similarity is the distance', async () => {
    rekognition.on(CompareFacesCommand).resolves({
      SourceImageFace: { BoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 }, Confidence: 99.9 },
      FaceMatches: [
        { Similarity: 62.5, Face: { BoundingBox: { Left: 0.1, Top: 0.1, Width: 0.3, Height: 0.3 }, Confidence: 99 } },
        { Similarity: 96.25, Face: { BoundingBox: { Left: 0.5, Top: 0.1, Width: 0.3, Height: 0.3 }, Confidence: 99 } },
      ],
      UnmatchedFaces: [],
    });
    const backend = await open();
    assert.deepEqual(await backend.compare(a, b), { distance: 0.0375 });
    const input = rekognition.commandCalls(CompareFacesCommand)[0]!.args[0].input;
    assert.deepEqual([input.SimilarityThreshold, input.QualityFilter], [0, 'NONE']);
    assert.deepEqual([Buffer.from(input.SourceImage!.Bytes!), Buffer.from(input.TargetImage!.Bytes!)], [Buffer.from(a), Buffer.from(b)]);
  });

  test('no face in img1 (InvalidParameterException) or in img2 (no matches): NO_FACE naming the image', async () => {
    rekognition
      .on(CompareFacesCommand)
      .rejectsOnce(new InvalidParameterException({ message: 'There are no faces in the image. Should be at least 1.', $metadata: {} }))
      .resolvesOnce({ SourceImageFace: { BoundingBox: { Left: 0.2, Top: 0.2, Width: 0.6, Height: 0.6 }, Confidence: 99.9 }, FaceMatches: [], UnmatchedFaces: [] });
    const backend = await open();
    await assert.rejects(backend.compare(a, b), (err: { code: string; details: { field: string } }) => err.code === ErrorCode.NO_FACE && err.details.field === 'img1');
    await assert.rejects(backend.compare(a, b), (err: { code: string; details: { field: string } }) => err.code === ErrorCode.NO_FACE && err.details.field === 'img2');
  });
});

describe('enrolment: S3 + IndexFaces', () => {
  const amy = identityImages().filter((i) => i.person === 'amy');
  const faceRecord = (faceId: string, externalImageId: string) => ({
    Face: {
      FaceId: faceId,
      BoundingBox: { Left: 0.2, Top: 0.15, Width: 0.6, Height: 0.7 },
      ImageId: randomUUID(),
      ExternalImageId: externalImageId,
      Confidence: 99.99,
      IndexFacesModelVersion: '7.0',
    },
    FaceDetail: faceDetail(0.2, 0.15, 0.6, 0.7, 99.99),
  });

  test('the image goes to S3, IndexFaces reads it from there with the person id and the quality filter', async () => {
    const faceId = randomUUID();
    rekognition.on(IndexFacesCommand).resolves({ FaceRecords: [faceRecord(faceId, 'person-1')], UnindexedFaces: [], FaceModelVersion: '7.0' });
    const backend = await open();
    const bytes = new Uint8Array(readFileSync(amy[0]!.path));
    const outcome = await backend.indexReference({ personId: 'person-1', imageId: 'image-1', key: 'amy/amy1.png', bytes });
    assert.ok(outcome.indexed);
    assert.deepEqual(
      outcome.faces.map((f) => [f.id, f.imageId, f.personId, f.model, f.embedding.length]),
      [[faceId, 'image-1', 'person-1', 'aws_rekognition', 0]],
    );
    assert.deepEqual(outcome.faces[0]!.box, { x: 0.2 * 150, y: 0.15 * 150, w: 0.6 * 150, h: 0.7 * 150 });
    const input = rekognition.commandCalls(IndexFacesCommand)[0]!.args[0].input;
    assert.deepEqual(input, {
      CollectionId: 'facewatch-test',
      Image: { S3Object: { Bucket: bucket, Name: 'blacklist_db/amy/amy1.png' } },
      ExternalImageId: 'person-1',
      MaxFaces: 2,
      QualityFilter: 'AUTO',
      DetectionAttributes: ['DEFAULT'],
    });
    assert.deepEqual(Buffer.from((await references.get('amy/amy1.png'))!), Buffer.from(bytes), 'S3 holds the original');
  });

  test('a WebP reference is kept as it is in S3 and sent to IndexFaces as JPEG bytes', async () => {
    rekognition.on(IndexFacesCommand).resolves({ FaceRecords: [faceRecord(randomUUID(), 'person-1')], UnindexedFaces: [] });
    const backend = await open();
    const webp = new Uint8Array(await sharp(amy[1]!.path).webp().toBuffer());
    const outcome = await backend.indexReference({ personId: 'person-1', imageId: 'image-2', key: 'amy/amy2.webp', bytes: webp });
    assert.ok(outcome.indexed);
    const image = rekognition.commandCalls(IndexFacesCommand)[0]!.args[0].input.Image!;
    assert.equal(image.S3Object, undefined);
    assert.equal((await sharp(Buffer.from(image.Bytes!)).metadata()).format, 'jpeg');
    assert.deepEqual(Buffer.from((await references.get('amy/amy2.webp'))!), Buffer.from(webp));
  });

  test('several faces: MULTIPLE_FACES, the indexed faces and the object are deleted again', async () => {
    const ids = [randomUUID(), randomUUID()];
    rekognition.on(IndexFacesCommand).resolves({
      FaceRecords: ids.map((id) => faceRecord(id, 'person-2')),
      UnindexedFaces: [{ Reasons: ['EXCEEDS_MAX_FACES'], FaceDetail: faceDetail(0.7, 0.3, 0.1, 0.15, 98) }],
    });
    rekognition.on(DeleteFacesCommand).resolves({ DeletedFaces: ids });
    const backend = await open();
    const group = groupPhotos()[0]!;
    const outcome = await backend.indexReference({ personId: 'person-2', imageId: 'image-3', key: 'group/bbt1.jpg', bytes: new Uint8Array(readFileSync(group.path)) });
    assert.deepEqual(outcome.indexed ? 'indexed' : outcome.code, ErrorCode.MULTIPLE_FACES);
    assert.deepEqual(
      rekognition.commandCalls(DeleteFacesCommand).map((c) => c.args[0].input),
      [{ CollectionId: 'facewatch-test', FaceIds: ids }],
    );
    assert.equal(await references.get('group/bbt1.jpg'), undefined);
  });

  test("a face the quality filter refuses: FACE_REJECTED with Rekognition's reasons; no face at all: NO_FACE", async () => {
    rekognition
      .on(IndexFacesCommand)
      .resolvesOnce({ FaceRecords: [], UnindexedFaces: [{ Reasons: ['LOW_SHARPNESS', 'SMALL_BOUNDING_BOX'], FaceDetail: faceDetail(0.4, 0.4, 0.05, 0.05, 80) }] })
      .resolvesOnce({ FaceRecords: [], UnindexedFaces: [] });
    const backend = await open();
    const bytes = new Uint8Array(readFileSync(amy[2]!.path));
    const rejected = await backend.indexReference({ personId: 'person-3', imageId: 'image-4', key: 'amy/amy3.png', bytes });
    assert.ok(!rejected.indexed);
    assert.equal(rejected.code, ErrorCode.FACE_REJECTED);
    assert.match(rejected.message, /LOW_SHARPNESS, SMALL_BOUNDING_BOX/);
    const none = await backend.indexReference({ personId: 'person-3', imageId: 'image-5', key: 'noface/white.png', bytes: new Uint8Array(readFileSync(noFaceImage())) });
    assert.deepEqual(none.indexed ? 'indexed' : none.code, ErrorCode.NO_FACE);
    assert.equal(await references.get('amy/amy3.png'), undefined, 'rejected images do not stay in S3');
    assert.equal(rekognition.commandCalls(DeleteFacesCommand).length, 0, 'nothing was indexed, nothing to delete');
  });

  test('a file that is not an image is refused before anything reaches AWS', async () => {
    const backend = await open();
    const outcome = await backend.indexReference({ personId: 'p', imageId: 'i', key: 'amy/notes.img', bytes: new TextEncoder().encode('{"not": "an image"}') });
    assert.deepEqual(outcome.indexed ? 'indexed' : outcome.code, ErrorCode.IMAGE_UNSUPPORTED_FORMAT);
    assert.equal(rekognition.commandCalls(IndexFacesCommand).length, 0);
    assert.equal(await references.get('amy/notes.img'), undefined);
  });

  test("removing references deletes the faces and the person's objects", async () => {
    await references.put('bernadette/b1.png', new Uint8Array(readFileSync(amy[0]!.path)), 'image/png');
    await references.put('bernadette/b2.png', new Uint8Array(readFileSync(amy[1]!.path)), 'image/png');
    const ids = [randomUUID(), randomUUID()];
    rekognition.on(DeleteFacesCommand).resolves({ DeletedFaces: ids });
    const backend = await open();
    await backend.removeReferences({ faceIds: ids, keys: ['bernadette/b1.png', 'bernadette/b2.png'] });
    assert.deepEqual(
      rekognition.commandCalls(DeleteFacesCommand).map((c) => c.args[0].input.FaceIds),
      [ids],
    );
    assert.ok(!(await objects()).some((k) => k.startsWith('blacklist_db/bernadette/')));
  });
});

describe('reconcile', () => {
  test('faces in the collection that no stored reference owns are deleted; ListFaces is followed page by page', async () => {
    const owned = [randomUUID(), randomUUID(), randomUUID()];
    const orphans = [randomUUID(), randomUUID()];
    const face = (id: string) => ({
      FaceId: id,
      ExternalImageId: 'p',
      ImageId: randomUUID(),
      Confidence: 99.9,
      BoundingBox: { Left: 0.1, Top: 0.1, Width: 0.5, Height: 0.5 },
      IndexFacesModelVersion: '7.0',
    });
    rekognition
      .on(ListFacesCommand)
      .resolvesOnce({ Faces: [face(owned[0]!), face(orphans[0]!)], NextToken: 'page-2', FaceModelVersion: '7.0' })
      .resolvesOnce({ Faces: [face(owned[1]!), face(owned[2]!)], NextToken: 'page-3', FaceModelVersion: '7.0' })
      .resolvesOnce({ Faces: [face(orphans[1]!)], FaceModelVersion: '7.0' });
    rekognition.on(DeleteFacesCommand).resolves({ DeletedFaces: orphans });
    const backend = await open();
    const stored = [...owned, randomUUID()].map((id) => ({
      id,
      imageId: 'i',
      personId: 'p',
      model: 'aws_rekognition',
      embedding: new Float32Array(0),
      norm: 0,
      box: { x: 0, y: 0, w: 1, h: 1 },
    }));
    assert.deepEqual(await backend.reconcile(stored), { added: 0, removed: 2 });
    assert.deepEqual(
      rekognition.commandCalls(ListFacesCommand).map((c) => c.args[0].input.NextToken),
      [undefined, 'page-2', 'page-3'],
    );
    assert.deepEqual(
      rekognition.commandCalls(DeleteFacesCommand).map((c) => c.args[0].input.FaceIds),
      [orphans],
    );
  });
});
