import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateCollectionCommand,
  DeleteCollectionCommand,
  DeleteFacesCommand,
  DescribeCollectionCommand,
  DetectFacesCommand,
  ImageTooLargeException,
  IndexFacesCommand,
  InvalidImageFormatException,
  InvalidParameterException,
  InvalidS3ObjectException,
  ListCollectionsCommand,
  ListFacesCommand,
  RekognitionClient,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  SearchFacesByImageCommand,
  ThrottlingException,
  type BoundingBox,
  type Face,
} from '@aws-sdk/client-rekognition';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import { loadConfig, projectRoot } from '@facewatch/core';
import { startFacePool, type FacePool } from '@facewatch/face';
import { groupPhotos, identityImages, labelFaces, noFaceImage } from '@facewatch/face/testing';
import { fakeSimilarity, installFakeRekognition, type FakeRekognition } from '@facewatch/recognition/testing';

// The fake Rekognition, driven through a real RekognitionClient, with the real face models doing
// the detection and recognition, and real fixture images (Bytes; S3Object is covered end to end
// against moto elsewhere, here only with a mocked S3 client).

const COLLECTION = 'fake-rekognition-test';
let pool: FacePool;
let fake: FakeRekognition;
let client: RekognitionClient;

const people = [...new Set(identityImages().map((i) => i.person))];
const crops = (person: string) => identityImages().filter((i) => i.person === person);
const bytesOf = (path: string): Uint8Array => readFileSync(path);
const area = (b: BoundingBox | undefined): number => (b?.Width ?? 0) * (b?.Height ?? 0);
/** Matches a rejection by the SDK exception class and name. */
const awsError = (Ctor: new (...args: never[]) => Error) => (err: unknown) => {
  assert.ok(err instanceof Ctor, `expected ${Ctor.name}, got ${String(err)}`);
  assert.equal((err as Error).name, Ctor.name);
  return true;
};

before(async () => {
  // MODELS_MIRROR comes from the test runner; run alone, fall back to ../shared/models beside the checkout.
  const env = { ...process.env };
  const mirror = resolve(projectRoot(), '..', 'shared', 'models');
  if (!env.MODELS_MIRROR && existsSync(mirror)) env.MODELS_MIRROR = mirror;
  pool = await startFacePool(loadConfig(env).face);
  fake = installFakeRekognition({ faces: pool });
  client = new RekognitionClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});

after(async () => {
  fake?.restore();
  client?.destroy();
  await pool?.close();
});

describe('collections', () => {
  test('CreateCollection, a second time ResourceAlreadyExistsException; DescribeCollection; a missing one ResourceNotFoundException', async () => {
    const created = await client.send(new CreateCollectionCommand({ CollectionId: COLLECTION }));
    assert.equal(created.StatusCode, 200);
    assert.equal(created.FaceModelVersion, '7.0');
    assert.equal(created.CollectionArn, `aws:rekognition:us-east-1:123456789012:collection/${COLLECTION}`);
    assert.equal(created.$metadata.httpStatusCode, 200);
    await assert.rejects(client.send(new CreateCollectionCommand({ CollectionId: COLLECTION })), awsError(ResourceAlreadyExistsException));

    const described = await client.send(new DescribeCollectionCommand({ CollectionId: COLLECTION }));
    assert.equal(described.FaceCount, 0);
    assert.equal(described.FaceModelVersion, '7.0');
    assert.equal(described.CollectionARN, created.CollectionArn);
    assert.ok(described.CreationTimestamp instanceof Date);

    await assert.rejects(client.send(new DescribeCollectionCommand({ CollectionId: 'no-such-collection' })), awsError(ResourceNotFoundException));
    await assert.rejects(
      client.send(new IndexFacesCommand({ CollectionId: 'no-such-collection', Image: { Bytes: bytesOf(crops(people[0]!)[0]!.path) } })),
      awsError(ResourceNotFoundException),
    );
  });

  test('DeleteCollection removes it; deleting it again is ResourceNotFoundException', async () => {
    await client.send(new CreateCollectionCommand({ CollectionId: 'short-lived' }));
    assert.equal((await client.send(new DeleteCollectionCommand({ CollectionId: 'short-lived' }))).StatusCode, 200);
    await assert.rejects(client.send(new DeleteCollectionCommand({ CollectionId: 'short-lived' })), awsError(ResourceNotFoundException));
  });
});

describe('enrol one crop per person, then recognise the others', () => {
  const enrolled = new Map<string, Face>();

  test('IndexFaces indexes the one face of each first crop, with ExternalImageId = the person', async () => {
    for (const person of people) {
      const out = await client.send(
        new IndexFacesCommand({
          CollectionId: COLLECTION,
          Image: { Bytes: bytesOf(crops(person)[0]!.path) },
          ExternalImageId: person,
          MaxFaces: 1,
          QualityFilter: 'AUTO',
          DetectionAttributes: ['DEFAULT'],
        }),
      );
      assert.equal(out.FaceRecords?.length, 1, person);
      assert.deepEqual(out.UnindexedFaces, []);
      assert.equal(out.FaceModelVersion, '7.0');
      const face = out.FaceRecords[0]!.Face!;
      assert.match(face.FaceId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(face.ImageId!, /^[0-9a-f-]{36}$/);
      assert.equal(face.ExternalImageId, person);
      assert.equal(face.IndexFacesModelVersion, '7.0');
      assert.ok(face.Confidence! > 50 && face.Confidence! <= 100, `confidence ${face.Confidence}`);
      const detail = out.FaceRecords[0]!.FaceDetail!;
      assert.deepEqual(detail.BoundingBox, face.BoundingBox);
      assert.deepEqual(
        detail.Landmarks?.map((l) => l.Type),
        ['eyeLeft', 'eyeRight', 'nose', 'mouthLeft', 'mouthRight'],
      );
      enrolled.set(person, face);
    }
    assert.equal(fake.faceCount(COLLECTION), people.length);
    assert.equal((await client.send(new DescribeCollectionCommand({ CollectionId: COLLECTION }))).FaceCount, people.length);
  });

  test('SearchFacesByImage: every other crop of a person is best matched to that person with similarity ≥ 80', async (t) => {
    const genuine: number[] = [],
      impostor: number[] = [];
    const wrong: string[] = [];
    for (const person of people) {
      for (const crop of crops(person).slice(1)) {
        const out = await client.send(new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytesOf(crop.path) }, FaceMatchThreshold: 0, MaxFaces: 100 }));
        assert.equal(out.FaceModelVersion, '7.0');
        assert.ok(out.SearchedFaceConfidence! > 50);
        assert.ok(area(out.SearchedFaceBoundingBox) > 0.1, 'a crop is mostly face');
        const matches = out.FaceMatches!;
        assert.equal(matches.length, people.length, 'threshold 0 returns every face');
        for (let i = 1; i < matches.length; i++) assert.ok(matches[i - 1]!.Similarity! >= matches[i]!.Similarity!, 'sorted by similarity, best first');
        for (const m of matches) (m.Face!.ExternalImageId === person ? genuine : impostor).push(m.Similarity!);
        const best = matches[0]!;
        if (best.Face!.ExternalImageId !== person || best.Similarity! < 80) wrong.push(`${crop.file} → ${best.Face!.ExternalImageId} ${best.Similarity!.toFixed(2)}`);
        assert.deepEqual(Object.keys(best.Face!).sort(), ['BoundingBox', 'Confidence', 'ExternalImageId', 'FaceId', 'ImageId', 'IndexFacesModelVersion']);
        assert.equal(best.Face!.FaceId, enrolled.get(best.Face!.ExternalImageId!)!.FaceId);
      }
    }
    const stats = (xs: number[]) =>
      `n=${xs.length} min ${Math.min(...xs).toFixed(2)} mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} max ${Math.max(...xs).toFixed(2)}`;
    t.diagnostic(`same person similarity: ${stats(genuine)}`);
    t.diagnostic(`different people similarity: ${stats(impostor)}`);
    assert.deepEqual(wrong, []);
    assert.ok(Math.max(...impostor) < 80, `an impostor reached ${Math.max(...impostor)}`);
  });

  test('without FaceMatchThreshold the default 80 applies; MaxFaces caps the matches', async () => {
    for (const person of people) {
      const out = await client.send(new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytesOf(crops(person)[1]!.path) } }));
      assert.ok(out.FaceMatches!.length >= 1, person);
      assert.ok(
        out.FaceMatches!.every((m) => m.Similarity! >= 80 && m.Face!.ExternalImageId === person),
        JSON.stringify(out.FaceMatches),
      );
    }
    const capped = await client.send(
      new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytesOf(crops(people[0]!)[1]!.path) }, FaceMatchThreshold: 0, MaxFaces: 3 }),
    );
    assert.equal(capped.FaceMatches!.length, 3);
  });

  test('the similarity calibration: cosine 0 → 100, 0.63 → 80, clamped to 0..100', () => {
    assert.equal(fakeSimilarity(0), 100);
    assert.ok(Math.abs(fakeSimilarity(0.63) - 80) < 1e-9);
    assert.equal(fakeSimilarity(-0.1), 100);
    assert.ok(fakeSimilarity(2) > 0 && fakeSimilarity(2) < 40);
    assert.equal(fakeSimilarity(10), 0);
  });
});

describe('group photos', () => {
  test('DetectFaces finds as many faces as expected.json allows, as ratios with Rekognition landmarks', async () => {
    for (const group of groupPhotos()) {
      const out = await client.send(new DetectFacesCommand({ Image: { Bytes: bytesOf(group.path) }, Attributes: ['DEFAULT'] }));
      const faces = out.FaceDetails!;
      assert.ok(faces.length >= group.minFaces && faces.length <= group.maxFaces, `${group.file}: ${faces.length} faces, expected ${group.minFaces}..${group.maxFaces}`);
      for (const f of faces) {
        const b = f.BoundingBox!;
        for (const v of [b.Left!, b.Top!, b.Width!, b.Height!]) assert.ok(v >= 0 && v <= 1, `${group.file}: box ${JSON.stringify(b)}`);
        assert.ok(b.Left! + b.Width! <= 1 + 1e-9 && b.Top! + b.Height! <= 1 + 1e-9);
        assert.ok(f.Confidence! >= 0 && f.Confidence! <= 100);
        const mark = Object.fromEntries(f.Landmarks!.map((l) => [l.Type, l]));
        assert.deepEqual(Object.keys(mark), ['eyeLeft', 'eyeRight', 'nose', 'mouthLeft', 'mouthRight']);
        assert.ok(mark['eyeLeft']!.X! < mark['eyeRight']!.X!, 'eyeLeft is on the image’s left');
        assert.ok(mark['mouthLeft']!.X! < mark['mouthRight']!.X!, 'mouthLeft is on the image’s left');
        for (const l of f.Landmarks!)
          assert.ok(l.X! > b.Left! - 0.02 && l.X! < b.Left! + b.Width! + 0.02 && l.Y! > b.Top! - 0.02 && l.Y! < b.Top! + b.Height! + 0.02, 'landmarks inside the face');
        assert.ok(mark['eyeLeft']!.Y! < mark['nose']!.Y! && mark['nose']!.Y! < mark['mouthLeft']!.Y!, 'eyes above nose above mouth');
        for (const k of ['Roll', 'Yaw', 'Pitch'] as const) assert.ok(Math.abs(f.Pose![k]!) <= 180, `${k} ${f.Pose![k]}`);
        for (const k of ['Brightness', 'Sharpness'] as const) assert.ok(f.Quality![k]! >= 0 && f.Quality![k]! <= 100, `${k} ${f.Quality![k]}`);
      }
      assert.ok(
        faces.every((f, i) => i === 0 || area(faces[i - 1]!.BoundingBox) >= area(f.BoundingBox)),
        'largest first',
      );
    }
  });

  test('SearchFacesByImage searches only the largest face of a group photo, and names its person', async () => {
    for (const group of groupPhotos()) {
      const bytes = bytesOf(group.path);
      const detected = (await client.send(new DetectFacesCommand({ Image: { Bytes: bytes } }))).FaceDetails!;
      const largest = [...detected].sort((a, b) => area(b.BoundingBox) - area(a.BoundingBox))[0]!;
      const out = await client.send(new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytes }, FaceMatchThreshold: 0, MaxFaces: 1 }));
      assert.deepEqual(out.SearchedFaceBoundingBox, largest.BoundingBox, `${group.file}: one searched face, the largest`);
      assert.equal(out.SearchedFaceConfidence, largest.Confidence);
      assert.equal(out.FaceMatches!.length, 1);
      // the person the fixture labels at the largest face
      const pixels = (await pool.analyse(bytes, { embed: false })).faces;
      const labelled = labelFaces(pixels, group);
      const biggest = labelled.reduce((a, b) => (b.face.box.w * b.face.box.h > a.face.box.w * a.face.box.h ? b : a));
      assert.equal(out.FaceMatches![0]!.Face!.ExternalImageId, biggest.person, group.file);
    }
  });

  test('IndexFaces on a group photo: largest first, MaxFaces → EXCEEDS_MAX_FACES, small faces → SMALL_BOUNDING_BOX', async () => {
    await client.send(new CreateCollectionCommand({ CollectionId: 'groups' }));
    const group = groupPhotos().find((g) => g.minFaces >= 5)!;
    const out = await client.send(
      new IndexFacesCommand({ CollectionId: 'groups', Image: { Bytes: bytesOf(group.path) }, ExternalImageId: 'group', MaxFaces: 2, QualityFilter: 'NONE' }),
    );
    assert.equal(out.FaceRecords!.length, 2);
    assert.ok(area(out.FaceRecords![0]!.Face!.BoundingBox) >= area(out.FaceRecords![1]!.Face!.BoundingBox));
    assert.equal(out.FaceRecords![0]!.Face!.ImageId, out.FaceRecords![1]!.Face!.ImageId, 'one ImageId per call');
    assert.ok(out.UnindexedFaces!.length >= group.minFaces - 2);
    for (const u of out.UnindexedFaces!) {
      assert.deepEqual(u.Reasons, ['EXCEEDS_MAX_FACES']);
      assert.ok(area(u.FaceDetail!.BoundingBox) <= area(out.FaceRecords![1]!.Face!.BoundingBox));
    }
    assert.equal(fake.faceCount('groups'), 2);

    // the fake's quality rule: under 40 px on the shorter side is SMALL_BOUNDING_BOX unless QualityFilter is NONE
    const { width, height } = await pool.analyse(bytesOf(group.path), { embed: false });
    const smallest = Math.min(...out.UnindexedFaces!.map((u) => Math.min(u.FaceDetail!.BoundingBox!.Width! * width, u.FaceDetail!.BoundingBox!.Height! * height)));
    const tiny = await sharp(bytesOf(group.path))
      .resize({ width: Math.round((width * 30) / smallest) })
      .jpeg()
      .toBuffer();
    const filtered = await client.send(new IndexFacesCommand({ CollectionId: 'groups', Image: { Bytes: tiny }, QualityFilter: 'AUTO' }));
    const unfiltered = await client.send(new IndexFacesCommand({ CollectionId: 'groups', Image: { Bytes: tiny }, QualityFilter: 'NONE' }));
    const small = filtered.UnindexedFaces!.filter((u) => u.Reasons!.includes('SMALL_BOUNDING_BOX'));
    assert.ok(small.length >= 1, `a face shrunk to ~30 px is filtered: ${JSON.stringify(filtered.UnindexedFaces?.map((u) => u.Reasons))}`);
    assert.equal(filtered.FaceRecords!.length + small.length, unfiltered.FaceRecords!.length, 'NONE indexes what AUTO filters');
    await client.send(new DeleteCollectionCommand({ CollectionId: 'groups' }));
  });
});

describe('bad images', () => {
  test('an image without a face: DetectFaces [], IndexFaces nothing, SearchFacesByImage InvalidParameterException', async () => {
    const bytes = bytesOf(noFaceImage());
    assert.deepEqual((await client.send(new DetectFacesCommand({ Image: { Bytes: bytes } }))).FaceDetails, []);
    const indexed = await client.send(new IndexFacesCommand({ CollectionId: COLLECTION, Image: { Bytes: bytes } }));
    assert.deepEqual([indexed.FaceRecords, indexed.UnindexedFaces], [[], []]);
    await assert.rejects(client.send(new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytes } })), (err: Error) => {
      awsError(InvalidParameterException)(err);
      assert.equal(err.message, 'There are no faces in the image. Should be at least 1.');
      return true;
    });
  });

  test('not JPEG or PNG → InvalidImageFormatException; over 5 MB as Bytes → ImageTooLargeException', async () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    await assert.rejects(client.send(new DetectFacesCommand({ Image: { Bytes: gif } })), awsError(InvalidImageFormatException));
    const corruptJpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
    await assert.rejects(client.send(new DetectFacesCommand({ Image: { Bytes: corruptJpeg } })), awsError(InvalidImageFormatException));
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set([0xff, 0xd8, 0xff]);
    await assert.rejects(client.send(new DetectFacesCommand({ Image: { Bytes: big } })), awsError(ImageTooLargeException));
    await assert.rejects(client.send(new DetectFacesCommand({ Image: {} })), awsError(InvalidParameterException));
  });
});

describe('ListFaces and DeleteFaces', () => {
  test('ListFaces pages with MaxResults 3 in insertion order', async () => {
    const pages: Face[][] = [];
    let token: string | undefined;
    do {
      const out = await client.send(new ListFacesCommand({ CollectionId: COLLECTION, MaxResults: 3, NextToken: token }));
      assert.equal(out.FaceModelVersion, '7.0');
      pages.push(out.Faces!);
      token = out.NextToken;
    } while (token);
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 2],
    );
    assert.deepEqual(
      pages.flat().map((f) => f.ExternalImageId),
      people,
    );
    const all = await client.send(new ListFacesCommand({ CollectionId: COLLECTION }));
    assert.equal(all.Faces!.length, people.length);
    assert.equal(all.NextToken, undefined);
    assert.deepEqual(Object.keys(all.Faces![0]!).sort(), ['BoundingBox', 'Confidence', 'ExternalImageId', 'FaceId', 'ImageId', 'IndexFacesModelVersion']);
  });

  test('DeleteFaces deletes the known ids and reports unknown ones as FACE_NOT_FOUND; the person is no longer found', async () => {
    const faces = (await client.send(new ListFacesCommand({ CollectionId: COLLECTION }))).Faces!;
    const victim = faces.find((f) => f.ExternalImageId === people[0])!;
    const unknown = '00000000-0000-4000-8000-000000000000';
    const out = await client.send(new DeleteFacesCommand({ CollectionId: COLLECTION, FaceIds: [victim.FaceId!, unknown] }));
    assert.deepEqual(out.DeletedFaces, [victim.FaceId]);
    assert.deepEqual(out.UnsuccessfulFaceDeletions, [{ FaceId: unknown, Reasons: ['FACE_NOT_FOUND'] }]);
    assert.equal(fake.faceCount(COLLECTION), people.length - 1);
    const search = await client.send(new SearchFacesByImageCommand({ CollectionId: COLLECTION, Image: { Bytes: bytesOf(crops(people[0]!)[1]!.path) } }));
    assert.ok(
      search.FaceMatches!.every((m) => m.Face!.ExternalImageId !== people[0]),
      JSON.stringify(search.FaceMatches),
    );
  });
});

describe('the fake itself', () => {
  test('failNext fails the next n calls of one command with the given exception, then answers again', async () => {
    const before = fake.calls.length;
    const throttled = new ThrottlingException({ message: 'Rate exceeded', $metadata: {} });
    fake.failNext('DescribeCollection', throttled, 2);
    await assert.rejects(client.send(new DescribeCollectionCommand({ CollectionId: COLLECTION })), (err) => err === throttled);
    // other commands are not affected
    await client.send(new ListFacesCommand({ CollectionId: COLLECTION, MaxResults: 1 }));
    await assert.rejects(client.send(new DescribeCollectionCommand({ CollectionId: COLLECTION })), awsError(ThrottlingException));
    assert.equal((await client.send(new DescribeCollectionCommand({ CollectionId: COLLECTION }))).FaceCount, people.length - 1);
    assert.deepEqual(
      fake.calls.slice(before).map((c) => c.name),
      ['DescribeCollection', 'ListFaces', 'DescribeCollection', 'DescribeCollection'],
    );
    assert.deepEqual(fake.calls.at(-1)!.input, { CollectionId: COLLECTION });
  });

  test('a command the fake does not implement fails loudly, naming it', async () => {
    await assert.rejects(client.send(new ListCollectionsCommand({})), /FakeRekognition does not implement ListCollections/);
  });

  test('every RekognitionClient is faked, including ones made after installing it', async () => {
    const other = new RekognitionClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const out = await other.send(new CreateCollectionCommand({ CollectionId: 'from-another-client' }));
    assert.equal(out.CollectionArn, 'aws:rekognition:eu-west-1:123456789012:collection/from-another-client');
    assert.equal(fake.faceCount('from-another-client'), 0);
    other.destroy();
  });

  test('S3Object images are read with GetObject: missing → InvalidS3ObjectException, over 15 MB → ImageTooLargeException', async () => {
    const s3Mock = mockClient(S3Client);
    const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const jpeg = bytesOf(groupPhotos()[0]!.path);
    s3Mock.on(GetObjectCommand, { Key: 'group.jpg' }).resolves({ ContentLength: jpeg.byteLength, Body: { transformToByteArray: async () => jpeg } as never });
    s3Mock.on(GetObjectCommand, { Key: 'huge.jpg' }).resolves({ ContentLength: 15 * 1024 * 1024 + 1, Body: { transformToByteArray: async () => jpeg } as never });
    s3Mock.on(GetObjectCommand, { Key: 'missing.jpg' }).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const withS3 = installFakeRekognition({ faces: pool, s3 });
    try {
      const image = (Name: string) => ({ S3Object: { Bucket: 'references', Name } });
      const out = await client.send(new DetectFacesCommand({ Image: image('group.jpg') }));
      assert.equal(out.FaceDetails!.length, groupPhotos()[0]!.minFaces);
      await assert.rejects(client.send(new DetectFacesCommand({ Image: image('missing.jpg') })), awsError(InvalidS3ObjectException));
      await assert.rejects(client.send(new DetectFacesCommand({ Image: image('huge.jpg') })), awsError(ImageTooLargeException));
      assert.deepEqual(
        s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input),
        [
          { Bucket: 'references', Key: 'group.jpg', VersionId: undefined },
          { Bucket: 'references', Key: 'missing.jpg', VersionId: undefined },
          { Bucket: 'references', Key: 'huge.jpg', VersionId: undefined },
        ],
      );
    } finally {
      withS3.restore();
      s3Mock.restore();
      s3.destroy();
      // installing a second fake replaced the first; put the suite's back for the tests after this one
      fake = installFakeRekognition({ faces: pool });
    }
  });

  test('restore puts the real RekognitionClient#send back', () => {
    fake.restore();
    assert.equal(Object.hasOwn(RekognitionClient.prototype, 'send'), false);
  });
});
