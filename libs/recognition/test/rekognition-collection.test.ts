import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AccessDeniedException,
  CreateCollectionCommand,
  DeleteFacesCommand,
  DescribeCollectionCommand,
  DetectFacesCommand,
  ImageTooLargeException,
  IndexFacesCommand,
  InternalServerError,
  InvalidImageFormatException,
  InvalidParameterException,
  ListFacesCommand,
  ProvisionedThroughputExceededException,
  RekognitionClient,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  SearchFacesByImageCommand,
  ThrottlingException,
  type Face,
} from '@aws-sdk/client-rekognition';
import { mockClient } from 'aws-sdk-client-mock';
import { AppError, createLogger, ErrorCode } from '@facewatch/core';
import { callAws, createRekognitionClient, isTransientAwsError, RekognitionCollection, toBackendError, type AwsRetryPolicy, type RekognitionImage } from '@facewatch/recognition';

// RekognitionCollection against aws-sdk-client-mock: every test asserts the input each command
// was sent with, and answers with shapes from the Rekognition API reference examples.

const log = createLogger({ level: 'silent' });
const COLLECTION = 'facewatch-test';
/** The start of a JPEG: the mock never decodes it. */
const jpegBytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);
const s3Image: RekognitionImage = { s3: { bucket: 'facewatch-references', key: 'persons/42/front.jpg' } };

/** A retry policy that records its back-offs instead of sleeping; random() = 1 makes the jitter its ceiling. */
function recordingPolicy(attempts = 4, random = () => 1): AwsRetryPolicy & { delays: number[] } {
  const delays: number[] = [];
  return {
    attempts,
    baseDelayMs: 100,
    maxDelayMs: 400,
    random,
    sleep: async (ms: number) => {
      delays.push(ms);
    },
    delays,
  };
}

function setup(retry: AwsRetryPolicy = recordingPolicy()) {
  const client = new RekognitionClient({
    region: 'eu-west-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  });
  const mock = mockClient(client);
  const collection = new RekognitionCollection({ client, collectionId: COLLECTION, log, retry });
  return { client, mock, collection };
}

const meta = (httpStatusCode: number) => ({ httpStatusCode, requestId: '3b5e1c8a-6d1e-4f6b-9a57-8c2d0f3e7a11', attempts: 1, totalRetryDelay: 0 });
const throttling = () => new ThrottlingException({ message: 'Rate exceeded', $metadata: meta(400) });
const throughputExceeded = () => new ProvisionedThroughputExceededException({ message: 'Provisioned rate exceeded', $metadata: meta(400) });
const notFound = () => new ResourceNotFoundException({ message: `The collection id: ${COLLECTION} does not exist`, $metadata: meta(400) });
const noFaces = () => new InvalidParameterException({ message: 'There are no faces in the image. Should be at least 1.', $metadata: meta(400) });

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, retryable?: boolean): Promise<AppError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (retryable !== undefined) assert.equal(caught.retryable, retryable);
  return caught;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A face id as Rekognition writes them (lower-case UUID), numbered for the tests. */
function faceId(n: number): string {
  const hex = n.toString(16).padStart(12, '0');
  return `5e6f2b0a-3c1d-4e8f-9a7b-${hex}`;
}

describe('createRekognitionClient', () => {
  test('uses the region and turns the SDK retries off (callAws retries)', async () => {
    const client = createRekognitionClient({ region: 'eu-central-1' });
    try {
      assert.equal(await client.config.region(), 'eu-central-1');
      assert.equal(await client.config.maxAttempts(), 1);
    } finally {
      client.destroy();
    }
  });

  test('rejects a collection id outside [a-zA-Z0-9_.-]', () => {
    const client = createRekognitionClient({ region: 'eu-central-1' });
    try {
      assert.throws(
        () => new RekognitionCollection({ client, collectionId: 'face watch/list', log, retry: recordingPolicy() }),
        (err: unknown) => err instanceof AppError && err.code === ErrorCode.INVALID_ARGUMENT,
      );
    } finally {
      client.destroy();
    }
  });
});

describe('ensureCollection', () => {
  test('creates the collection when DescribeCollection answers ResourceNotFoundException', async () => {
    const { mock, collection } = setup();
    mock.on(DescribeCollectionCommand).rejects(notFound());
    mock.on(CreateCollectionCommand).resolves({
      CollectionArn: `aws:rekognition:eu-west-1:123456789012:collection/${COLLECTION}`,
      FaceModelVersion: '7.0',
      StatusCode: 200,
    });

    assert.deepEqual(await collection.ensureCollection(), { created: true, faceModelVersion: '7.0', faceCount: 0 });
    const describes = mock.commandCalls(DescribeCollectionCommand);
    assert.equal(describes.length, 1);
    assert.deepEqual(describes[0]!.args[0].input, { CollectionId: COLLECTION });
    const creates = mock.commandCalls(CreateCollectionCommand);
    assert.equal(creates.length, 1);
    assert.deepEqual(creates[0]!.args[0].input, { CollectionId: COLLECTION });
  });

  test('an existing collection is described, not created', async () => {
    const { mock, collection } = setup();
    mock.on(DescribeCollectionCommand).resolves({
      CollectionARN: `arn:aws:rekognition:eu-west-1:123456789012:collection/${COLLECTION}`,
      CreationTimestamp: new Date('2024-05-02T09:14:26.000Z'),
      FaceCount: 42,
      FaceModelVersion: '7.0',
      UserCount: 0,
    });

    assert.deepEqual(await collection.ensureCollection(), { created: false, faceModelVersion: '7.0', faceCount: 42 });
    assert.equal(mock.commandCalls(DescribeCollectionCommand).length, 1);
    assert.equal(mock.commandCalls(CreateCollectionCommand).length, 0);
  });

  test('ResourceAlreadyExistsException from a concurrent creator counts as existing', async () => {
    const { mock, collection } = setup();
    mock
      .on(DescribeCollectionCommand)
      .rejectsOnce(notFound())
      .resolves({ CollectionARN: `arn:aws:rekognition:eu-west-1:123456789012:collection/${COLLECTION}`, FaceCount: 0, FaceModelVersion: '7.0' });
    mock.on(CreateCollectionCommand).rejects(new ResourceAlreadyExistsException({ message: `The collection id: ${COLLECTION} already exists`, $metadata: meta(400) }));

    assert.deepEqual(await collection.ensureCollection(), { created: false, faceModelVersion: '7.0', faceCount: 0 });
    assert.equal(mock.commandCalls(CreateCollectionCommand).length, 1);
    assert.deepEqual(mock.commandCalls(CreateCollectionCommand)[0]!.args[0].input, { CollectionId: COLLECTION });
    assert.equal(mock.commandCalls(DescribeCollectionCommand).length, 2);
  });

  test('AccessDeniedException on DescribeCollection is BACKEND_FAILED, without retry or create', async () => {
    const policy = recordingPolicy();
    const { mock, collection } = setup(policy);
    mock.on(DescribeCollectionCommand).rejects(new AccessDeniedException({ message: 'User is not authorized to perform: rekognition:DescribeCollection', $metadata: meta(400) }));

    const err = await rejectsWith(collection.ensureCollection(), ErrorCode.BACKEND_FAILED, false);
    assert.deepEqual(err.details, { operation: 'rekognition:DescribeCollection', aws_error: 'AccessDeniedException' });
    assert.equal(mock.commandCalls(DescribeCollectionCommand).length, 1);
    assert.equal(mock.commandCalls(CreateCollectionCommand).length, 0);
    assert.deepEqual(policy.delays, []);
  });
});

describe('detectFaces', () => {
  test('sends Attributes DEFAULT and maps a 3-face answer in order (box, confidence, 5 landmarks, quality)', async () => {
    const { mock, collection } = setup();
    mock.on(DetectFacesCommand).resolves({
      FaceDetails: [
        {
          BoundingBox: { Width: 0.20366999506950378, Height: 0.4154464900493622, Left: 0.4115043878555298, Top: 0.2054416984319687 },
          Landmarks: [
            { Type: 'eyeLeft', X: 0.4744318127632141, Y: 0.3714287281036377 },
            { Type: 'eyeRight', X: 0.5604498386383057, Y: 0.3698122799396515 },
            { Type: 'mouthLeft', X: 0.48356539011001587, Y: 0.5227264165878296 },
            { Type: 'mouthRight', X: 0.5546436309814453, Y: 0.5212652087211609 },
            { Type: 'nose', X: 0.5203565359115601, Y: 0.44715186953544617 },
          ],
          Pose: { Roll: -1.7543665170669556, Yaw: 2.0398943424224854, Pitch: 7.283440113067627 },
          Quality: { Brightness: 83.42708587646484, Sharpness: 92.22801208496094 },
          Confidence: 99.99964141845703,
        },
        {
          BoundingBox: { Width: 0.0950293019413948, Height: 0.1832059770822525, Left: 0.09401921182870865, Top: 0.1631290018558502 },
          Landmarks: [
            { Type: 'eyeLeft', X: 0.1213546171784401, Y: 0.2406044453382492 },
            { Type: 'eyeRight', X: 0.1606985330581665, Y: 0.2389136254787445 },
            { Type: 'mouthLeft', X: 0.1264752596616745, Y: 0.3047437071800232 },
            { Type: 'mouthRight', X: 0.1590852290391922, Y: 0.3033638894557953 },
            { Type: 'nose', X: 0.1429598480463028, Y: 0.2721039950847626 },
          ],
          Pose: { Roll: 3.0981502532958984, Yaw: -11.417755126953125, Pitch: 4.9432711601257324 },
          Quality: { Brightness: 61.38372039794922, Sharpness: 46.02980041503906 },
          Confidence: 99.91305541992188,
        },
        {
          // Cut by the left edge: Left is negative, and the landmarks outside the image are absent.
          BoundingBox: { Width: 0.061370085179805756, Height: 0.1188766285777092, Left: -0.0113420307263732, Top: 0.6205052733421326 },
          Landmarks: [
            { Type: 'eyeRight', X: 0.0253286510705948, Y: 0.6655611991882324 },
            { Type: 'nose', X: 0.0162981860339641, Y: 0.6934567093849182 },
            { Type: 'mouthRight', X: 0.0219749975204467, Y: 0.7176632285118103 },
          ],
          Pose: { Roll: -4.22601318359375, Yaw: 41.93693542480469, Pitch: -3.0114779472351074 },
          Confidence: 87.3011703491211,
        },
      ],
    });

    const faces = await collection.detectFaces({ bytes: jpegBytes });

    const calls = mock.commandCalls(DetectFacesCommand);
    assert.equal(calls.length, 1);
    const input = calls[0]!.args[0].input;
    assert.deepEqual(input, { Image: { Bytes: jpegBytes }, Attributes: ['DEFAULT'] });
    assert.equal(input.Image?.Bytes, jpegBytes, 'the bytes are passed as they are, not copied or base64-encoded');

    assert.equal(faces.length, 3);
    assert.deepEqual(faces[0], {
      box: { left: 0.4115043878555298, top: 0.2054416984319687, width: 0.20366999506950378, height: 0.4154464900493622 },
      confidence: 99.99964141845703,
      landmarks: {
        eyeLeft: { x: 0.4744318127632141, y: 0.3714287281036377 },
        eyeRight: { x: 0.5604498386383057, y: 0.3698122799396515 },
        mouthLeft: { x: 0.48356539011001587, y: 0.5227264165878296 },
        mouthRight: { x: 0.5546436309814453, y: 0.5212652087211609 },
        nose: { x: 0.5203565359115601, y: 0.44715186953544617 },
      },
      quality: { brightness: 83.42708587646484, sharpness: 92.22801208496094 },
    });
    assert.equal(faces[1]!.confidence, 99.91305541992188);
    assert.deepEqual(faces[1]!.box, { left: 0.09401921182870865, top: 0.1631290018558502, width: 0.0950293019413948, height: 0.1832059770822525 });
    assert.deepEqual(faces[1]!.quality, { brightness: 61.38372039794922, sharpness: 46.02980041503906 });
    assert.deepEqual(faces[2], {
      box: { left: -0.0113420307263732, top: 0.6205052733421326, width: 0.061370085179805756, height: 0.1188766285777092 },
      confidence: 87.3011703491211,
      landmarks: {
        eyeRight: { x: 0.0253286510705948, y: 0.6655611991882324 },
        nose: { x: 0.0162981860339641, y: 0.6934567093849182 },
        mouthRight: { x: 0.0219749975204467, y: 0.7176632285118103 },
      },
    });
  });

  test('no face: an empty FaceDetails is an empty list; S3 images are sent as S3Object Bucket/Name', async () => {
    const { mock, collection } = setup();
    mock.on(DetectFacesCommand).resolves({ FaceDetails: [] });
    assert.deepEqual(await collection.detectFaces(s3Image), []);
    assert.deepEqual(mock.commandCalls(DetectFacesCommand)[0]!.args[0].input, {
      Image: { S3Object: { Bucket: 'facewatch-references', Name: 'persons/42/front.jpg' } },
      Attributes: ['DEFAULT'],
    });
  });

  test('a FaceDetail without a BoundingBox is BACKEND_FAILED, not a crash', async () => {
    const { mock, collection } = setup();
    mock.on(DetectFacesCommand).resolves({ FaceDetails: [{ Confidence: 99.1 }] });
    await rejectsWith(collection.detectFaces({ bytes: jpegBytes }), ErrorCode.BACKEND_FAILED);
  });

  test('empty bytes are IMAGE_EMPTY without a call', async () => {
    const { mock, collection } = setup();
    await rejectsWith(collection.detectFaces({ bytes: new Uint8Array(0) }), ErrorCode.IMAGE_EMPTY);
    assert.equal(mock.commandCalls(DetectFacesCommand).length, 0);
  });

  test('InvalidImageFormatException is IMAGE_UNSUPPORTED_FORMAT, ImageTooLargeException is IMAGE_TOO_LARGE, neither retried', async () => {
    const policy = recordingPolicy();
    const { mock, collection } = setup(policy);
    mock
      .on(DetectFacesCommand)
      .rejectsOnce(new InvalidImageFormatException({ message: 'Request has unsupported image format', $metadata: meta(400) }))
      .rejectsOnce(new ImageTooLargeException({ message: 'Image size is too large.', $metadata: meta(400) }));

    await rejectsWith(collection.detectFaces({ bytes: jpegBytes }), ErrorCode.IMAGE_UNSUPPORTED_FORMAT, false);
    assert.equal(mock.commandCalls(DetectFacesCommand).length, 1);
    await rejectsWith(collection.detectFaces({ bytes: jpegBytes }), ErrorCode.IMAGE_TOO_LARGE, false);
    assert.equal(mock.commandCalls(DetectFacesCommand).length, 2);
    assert.deepEqual(policy.delays, []);
  });
});

describe('searchFacesByImage', () => {
  test('sends the explicit FaceMatchThreshold and MaxFaces with QualityFilter NONE, and maps the matches', async () => {
    const { mock, collection } = setup();
    mock.on(SearchFacesByImageCommand).resolves({
      SearchedFaceBoundingBox: { Height: 0.33481481671333313, Left: 0.31888890266418457, Top: 0.4933333396911621, Width: 0.25 },
      SearchedFaceConfidence: 99.9991226196289,
      FaceMatches: [
        {
          Similarity: 99.97036743164062,
          Face: {
            FaceId: '38271d79-7bc2-5efb-b752-398a8d575b85',
            BoundingBox: { Height: 0.3234420120716095, Left: 0.3233329951763153, Top: 0.5, Width: 0.24222199618816376 },
            ImageId: 'd5631190-d039-54e4-b267-abd22c8647c5',
            ExternalImageId: 'person-42:ref-7',
            Confidence: 99.99829864501953,
            IndexFacesModelVersion: '7.0',
          },
        },
        {
          Similarity: 93.42117309570312,
          Face: {
            FaceId: 'ff43d742-0c13-5d16-a3e8-03d3f58e980b',
            BoundingBox: { Height: 0.3351851999759674, Left: 0.3188889920711517, Top: 0.4933333396911621, Width: 0.25 },
            ImageId: '465f4e93-763e-51d0-b030-b9667a2d94b1',
            Confidence: 99.9990005493164,
          },
        },
      ],
      FaceModelVersion: '7.0',
    });

    const result = await collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 92.5, maxFaces: 3 });

    const calls = mock.commandCalls(SearchFacesByImageCommand);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.args[0].input, {
      CollectionId: COLLECTION,
      Image: { Bytes: jpegBytes },
      FaceMatchThreshold: 92.5,
      MaxFaces: 3,
      QualityFilter: 'NONE',
    });
    assert.deepEqual(result, {
      searched: { box: { left: 0.31888890266418457, top: 0.4933333396911621, width: 0.25, height: 0.33481481671333313 }, confidence: 99.9991226196289 },
      matches: [
        {
          faceId: '38271d79-7bc2-5efb-b752-398a8d575b85',
          externalImageId: 'person-42:ref-7',
          similarity: 99.97036743164062,
          box: { left: 0.3233329951763153, top: 0.5, width: 0.24222199618816376, height: 0.3234420120716095 },
        },
        {
          faceId: 'ff43d742-0c13-5d16-a3e8-03d3f58e980b',
          similarity: 93.42117309570312,
          box: { left: 0.3188889920711517, top: 0.4933333396911621, width: 0.25, height: 0.3351851999759674 },
        },
      ],
    });
  });

  test('a face with no match above the threshold: searched set, no matches; a threshold of 0 is sent as 0', async () => {
    const { mock, collection } = setup();
    mock.on(SearchFacesByImageCommand).resolves({
      SearchedFaceBoundingBox: { Height: 0.2, Left: 0.1, Top: 0.15, Width: 0.12 },
      SearchedFaceConfidence: 99.2,
      FaceMatches: [],
      FaceModelVersion: '7.0',
    });
    const result = await collection.searchFacesByImage(s3Image, { faceMatchThreshold: 0, maxFaces: 4096 });
    assert.deepEqual(result, { searched: { box: { left: 0.1, top: 0.15, width: 0.12, height: 0.2 }, confidence: 99.2 }, matches: [] });
    const input = mock.commandCalls(SearchFacesByImageCommand)[0]!.args[0].input;
    assert.equal(input.FaceMatchThreshold, 0);
    assert.equal(input.MaxFaces, 4096);
    assert.deepEqual(input.Image, { S3Object: { Bucket: 'facewatch-references', Name: 'persons/42/front.jpg' } });
  });

  test("InvalidParameterException 'There are no faces in the image' is no face: no matches, one call", async () => {
    const policy = recordingPolicy();
    const { mock, collection } = setup(policy);
    mock.on(SearchFacesByImageCommand).rejects(noFaces());
    assert.deepEqual(await collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 80, maxFaces: 5 }), {
      searched: undefined,
      matches: [],
    });
    assert.equal(mock.commandCalls(SearchFacesByImageCommand).length, 1);
    assert.deepEqual(policy.delays, []);
  });

  test('another InvalidParameterException is an AppError (BACKEND_FAILED), not "no face"', async () => {
    const { mock, collection } = setup();
    mock.on(SearchFacesByImageCommand).rejects(new InvalidParameterException({ message: 'Request has invalid parameters', $metadata: meta(400) }));
    const err = await rejectsWith(collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 80, maxFaces: 5 }), ErrorCode.BACKEND_FAILED, false);
    assert.equal(err.details?.aws_error, 'InvalidParameterException');
    assert.equal(mock.commandCalls(SearchFacesByImageCommand).length, 1);
  });

  test('a FaceMatch without Face.FaceId is BACKEND_FAILED', async () => {
    const { mock, collection } = setup();
    mock.on(SearchFacesByImageCommand).resolves({
      SearchedFaceBoundingBox: { Height: 0.2, Left: 0.1, Top: 0.15, Width: 0.12 },
      SearchedFaceConfidence: 99.2,
      FaceMatches: [{ Similarity: 97.1, Face: { BoundingBox: { Height: 0.2, Left: 0.1, Top: 0.15, Width: 0.12 }, Confidence: 99 } }],
    });
    const err = await rejectsWith(collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 80, maxFaces: 5 }), ErrorCode.BACKEND_FAILED);
    assert.match(err.message, /FaceId/);
  });

  test('a threshold outside 0..100 or a maxFaces outside 1..4096 is INVALID_ARGUMENT without a call', async () => {
    const { mock, collection } = setup();
    for (const options of [
      { faceMatchThreshold: 100.5, maxFaces: 5 },
      { faceMatchThreshold: -1, maxFaces: 5 },
      { faceMatchThreshold: Number.NaN, maxFaces: 5 },
      { faceMatchThreshold: 80, maxFaces: 0 },
      { faceMatchThreshold: 80, maxFaces: 4097 },
      { faceMatchThreshold: 80, maxFaces: 2.5 },
    ]) {
      await rejectsWith(collection.searchFacesByImage({ bytes: jpegBytes }, options), ErrorCode.INVALID_ARGUMENT);
    }
    assert.equal(mock.commandCalls(SearchFacesByImageCommand).length, 0);
  });
});

describe('indexFaces', () => {
  test('S3 image: sends ExternalImageId, MaxFaces, QualityFilter, DetectionAttributes; maps indexed and unindexed faces', async () => {
    const { mock, collection } = setup();
    mock.on(IndexFacesCommand).resolves({
      FaceModelVersion: '7.0',
      FaceRecords: [
        {
          Face: {
            FaceId: 'ff43d742-0c13-5d16-a3e8-03d3f58e980b',
            BoundingBox: { Height: 0.33481481671333313, Left: 0.31888890266418457, Top: 0.4933333396911621, Width: 0.25 },
            ImageId: '465f4e93-763e-51d0-b030-b9667a2d94b1',
            ExternalImageId: 'person-42:ref-7',
            Confidence: 99.9991226196289,
          },
          FaceDetail: {
            BoundingBox: { Height: 0.33481481671333313, Left: 0.31888890266418457, Top: 0.4933333396911621, Width: 0.25 },
            Confidence: 99.9991226196289,
            Landmarks: [
              { Type: 'eyeLeft', X: 0.3976764678955078, Y: 0.6248345971107483 },
              { Type: 'eyeRight', X: 0.4810936450958252, Y: 0.6317117214202881 },
              { Type: 'nose', X: 0.43618059158325195, Y: 0.7151750326156616 },
              { Type: 'mouthLeft', X: 0.40673378109931946, Y: 0.7710421085357666 },
              { Type: 'mouthRight', X: 0.47493067383766174, Y: 0.7770379185676575 },
            ],
            Pose: { Pitch: -9.713645935058594, Roll: 4.707281112670898, Yaw: -24.438663482666016 },
            Quality: { Brightness: 29.23358917236328, Sharpness: 80 },
          },
        },
      ],
      UnindexedFaces: [
        {
          Reasons: ['EXCEEDS_MAX_FACES'],
          FaceDetail: {
            BoundingBox: { Height: 0.1657407432794571, Left: 0.6520833373069763, Top: 0.2546296417713165, Width: 0.09166666865348816 },
            Confidence: 99.9983139038086,
          },
        },
        {
          Reasons: ['LOW_SHARPNESS', 'SMALL_BOUNDING_BOX'],
          FaceDetail: {
            BoundingBox: { Height: 0.02407407388091087, Left: 0.09166666865348816, Top: 0.7796295881271362, Width: 0.013541666977107525 },
            Confidence: 64.8323745727539,
          },
        },
      ],
    });

    const result = await collection.indexFaces(s3Image, { externalImageId: 'person-42:ref-7', maxFaces: 1, qualityFilter: 'AUTO' });

    const calls = mock.commandCalls(IndexFacesCommand);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.args[0].input, {
      CollectionId: COLLECTION,
      Image: { S3Object: { Bucket: 'facewatch-references', Name: 'persons/42/front.jpg' } },
      ExternalImageId: 'person-42:ref-7',
      DetectionAttributes: ['DEFAULT'],
      QualityFilter: 'AUTO',
      MaxFaces: 1,
    });
    assert.deepEqual(result, {
      indexed: [
        {
          faceId: 'ff43d742-0c13-5d16-a3e8-03d3f58e980b',
          imageId: '465f4e93-763e-51d0-b030-b9667a2d94b1',
          box: { left: 0.31888890266418457, top: 0.4933333396911621, width: 0.25, height: 0.33481481671333313 },
          confidence: 99.9991226196289,
        },
      ],
      unindexed: [
        {
          reasons: ['EXCEEDS_MAX_FACES'],
          box: { left: 0.6520833373069763, top: 0.2546296417713165, width: 0.09166666865348816, height: 0.1657407432794571 },
          confidence: 99.9983139038086,
        },
        {
          reasons: ['LOW_SHARPNESS', 'SMALL_BOUNDING_BOX'],
          box: { left: 0.09166666865348816, top: 0.7796295881271362, width: 0.013541666977107525, height: 0.02407407388091087 },
          confidence: 64.8323745727539,
        },
      ],
      faceModelVersion: '7.0',
    });
  });

  test('bytes image without maxFaces: Bytes sent, no MaxFaces key; nothing indexed when every face is filtered', async () => {
    const { mock, collection } = setup();
    mock.on(IndexFacesCommand).resolves({
      FaceModelVersion: '7.0',
      FaceRecords: [],
      UnindexedFaces: [{ Reasons: ['LOW_BRIGHTNESS', 'LOW_FACE_QUALITY'], FaceDetail: { Confidence: 91.4 } }],
    });

    const result = await collection.indexFaces({ bytes: jpegBytes }, { externalImageId: 'ref_2024-05-02.front', qualityFilter: 'NONE' });
    const input = mock.commandCalls(IndexFacesCommand)[0]!.args[0].input;
    assert.deepEqual(input, {
      CollectionId: COLLECTION,
      Image: { Bytes: jpegBytes },
      ExternalImageId: 'ref_2024-05-02.front',
      DetectionAttributes: ['DEFAULT'],
      QualityFilter: 'NONE',
    });
    assert.equal('MaxFaces' in input, false);
    assert.deepEqual(result, { indexed: [], unindexed: [{ reasons: ['LOW_BRIGHTNESS', 'LOW_FACE_QUALITY'], confidence: 91.4 }], faceModelVersion: '7.0' });
  });

  test('an ExternalImageId outside [a-zA-Z0-9_.\\-:]{1,255} is INVALID_ARGUMENT without a call', async () => {
    const { mock, collection } = setup();
    for (const externalImageId of ['', 'persons/42', 'front image', 'é', 'a'.repeat(256), 'id\n']) {
      await rejectsWith(collection.indexFaces({ bytes: jpegBytes }, { externalImageId, qualityFilter: 'AUTO' }), ErrorCode.INVALID_ARGUMENT);
    }
    await rejectsWith(collection.indexFaces({ bytes: jpegBytes }, { externalImageId: 'ok', maxFaces: 0, qualityFilter: 'AUTO' }), ErrorCode.INVALID_ARGUMENT);
    assert.equal(mock.commandCalls(IndexFacesCommand).length, 0);

    mock.on(IndexFacesCommand).resolves({ FaceRecords: [], UnindexedFaces: [] });
    await collection.indexFaces({ bytes: jpegBytes }, { externalImageId: 'a'.repeat(255), qualityFilter: 'AUTO' });
    await collection.indexFaces({ bytes: jpegBytes }, { externalImageId: 'A-z_0.9:x', qualityFilter: 'AUTO' });
    assert.equal(mock.commandCalls(IndexFacesCommand).length, 2);
  });

  test('a FaceRecord without Face.FaceId is BACKEND_FAILED', async () => {
    const { mock, collection } = setup();
    mock.on(IndexFacesCommand).resolves({
      FaceRecords: [{ Face: { BoundingBox: { Height: 0.3, Left: 0.3, Top: 0.4, Width: 0.25 }, Confidence: 99.9 } }],
    });
    await rejectsWith(collection.indexFaces({ bytes: jpegBytes }, { externalImageId: 'x', qualityFilter: 'AUTO' }), ErrorCode.BACKEND_FAILED);
  });
});

describe('listFaces', () => {
  test('follows NextToken over 3 pages and yields every face', async () => {
    const { mock, collection } = setup();
    const pages: { Faces: Face[]; NextToken?: string }[] = [
      { Faces: [0, 1].map((n) => listed(n)), NextToken: 'Z8mPQaSeVb0sXHlQbJ7fDuJAXTnp0GZ0vjYQ9F1WUq0ZxNq8' },
      { Faces: [2, 3].map((n) => listed(n)), NextToken: 'gCvzuoV0WYg4kl0Qeh8dbOfOLBzQ2K7ENbZ4Wp3bF5l3hGc1' },
      { Faces: [4].map((n) => listed(n)) },
    ];
    mock.on(ListFacesCommand).callsFake((input: { NextToken?: string }) => {
      const index = input.NextToken === undefined ? 0 : pages.findIndex((p) => p.NextToken === input.NextToken) + 1;
      const page = pages[index];
      if (!page) throw new Error(`unexpected NextToken ${input.NextToken}`);
      return { ...page, FaceModelVersion: '7.0' };
    });

    const faces = await collect(collection.listFaces({ pageSize: 2 }));

    assert.deepEqual(
      faces,
      [0, 1, 2, 3, 4].map((n) => ({ faceId: faceId(n), externalImageId: `person-${n}:ref-1`, imageId: imageIdOf(n) })),
    );
    const inputs = mock.commandCalls(ListFacesCommand).map((c) => c.args[0].input);
    assert.deepEqual(inputs, [
      { CollectionId: COLLECTION, MaxResults: 2 },
      { CollectionId: COLLECTION, MaxResults: 2, NextToken: pages[0]!.NextToken },
      { CollectionId: COLLECTION, MaxResults: 2, NextToken: pages[1]!.NextToken },
    ]);
  });

  test('defaults to MaxResults 4096; a face without FaceId is BACKEND_FAILED; a bad pageSize is INVALID_ARGUMENT', async () => {
    const { mock, collection } = setup();
    mock
      .on(ListFacesCommand)
      .resolvesOnce({ Faces: [{ ...listed(9) }], FaceModelVersion: '7.0' })
      .resolves({ Faces: [{ ImageId: imageIdOf(1), Confidence: 99.9 }] });
    assert.deepEqual(await collect(collection.listFaces()), [{ faceId: faceId(9), externalImageId: 'person-9:ref-1', imageId: imageIdOf(9) }]);
    assert.deepEqual(mock.commandCalls(ListFacesCommand)[0]!.args[0].input, { CollectionId: COLLECTION, MaxResults: 4096 });

    await rejectsWith(collect(collection.listFaces()), ErrorCode.BACKEND_FAILED);
    await rejectsWith(collect(collection.listFaces({ pageSize: 4097 })), ErrorCode.INVALID_ARGUMENT);
    await rejectsWith(collect(collection.listFaces({ pageSize: 0 })), ErrorCode.INVALID_ARGUMENT);
    assert.equal(mock.commandCalls(ListFacesCommand).length, 2);
  });

  test('a NextToken handed back twice is BACKEND_FAILED instead of a loop', async () => {
    const { mock, collection } = setup();
    mock.on(ListFacesCommand).resolves({ Faces: [listed(1)], NextToken: 'same-token' });
    await rejectsWith(collect(collection.listFaces()), ErrorCode.BACKEND_FAILED);
    assert.equal(mock.commandCalls(ListFacesCommand).length, 2);
  });
});

function imageIdOf(n: number): string {
  return `147fdf82-7a71-52cf-819b-${n.toString(16).padStart(12, '0')}`;
}

/** A Face as ListFaces returns it. */
function listed(n: number): Face {
  return {
    FaceId: faceId(n),
    BoundingBox: { Height: 0.18000000715255737, Left: 0.5555559992790222, Top: 0.10666700452566147, Width: 0.23999999463558197 },
    ImageId: imageIdOf(n),
    ExternalImageId: `person-${n}:ref-1`,
    Confidence: 100,
    IndexFacesModelVersion: '7.0',
  };
}

describe('deleteFaces', () => {
  test('5000 ids are sent as 2 calls (4096 + 904) and the deleted ids of both are returned', async () => {
    const { mock, collection } = setup();
    const ids = Array.from({ length: 5000 }, (_, i) => faceId(i));
    mock.on(DeleteFacesCommand).callsFake((input: { FaceIds: string[] }) => ({
      // AWS reports faces it could not find under UnsuccessfulFaceDeletions, not DeletedFaces.
      DeletedFaces: input.FaceIds.filter((id) => id !== faceId(4999)),
      UnsuccessfulFaceDeletions: input.FaceIds.includes(faceId(4999)) ? [{ FaceId: faceId(4999), Reasons: ['FACE_NOT_FOUND'] }] : [],
    }));

    const deleted = await collection.deleteFaces(ids);

    const calls = mock.commandCalls(DeleteFacesCommand);
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.args[0].input.CollectionId, COLLECTION);
    assert.equal(calls[0]!.args[0].input.FaceIds?.length, 4096);
    assert.equal(calls[1]!.args[0].input.FaceIds?.length, 904);
    assert.deepEqual([...calls[0]!.args[0].input.FaceIds!, ...calls[1]!.args[0].input.FaceIds!], ids);
    assert.deepEqual(deleted, ids.slice(0, 4999));
  });

  test('exactly 4096 ids are one call; no ids, no call', async () => {
    const { mock, collection } = setup();
    mock.on(DeleteFacesCommand).callsFake((input: { FaceIds: string[] }) => ({ DeletedFaces: input.FaceIds }));
    assert.deepEqual(await collection.deleteFaces([]), []);
    assert.equal(mock.commandCalls(DeleteFacesCommand).length, 0);
    const ids = Array.from({ length: 4096 }, (_, i) => faceId(i));
    assert.equal((await collection.deleteFaces(ids)).length, 4096);
    assert.equal(mock.commandCalls(DeleteFacesCommand).length, 1);
  });

  test('an id that is not a Rekognition face id is INVALID_ARGUMENT without a call', async () => {
    const { mock, collection } = setup();
    await rejectsWith(collection.deleteFaces([faceId(1), 'not-a-face-id']), ErrorCode.INVALID_ARGUMENT);
    assert.equal(mock.commandCalls(DeleteFacesCommand).length, 0);
  });
});

describe('retries (callAws through the adapter)', () => {
  test('throttling is retried, then the answer is used; the back-off doubles per try', async () => {
    const policy = recordingPolicy(4);
    const { mock, collection } = setup(policy);
    mock
      .on(DetectFacesCommand)
      .rejectsOnce(throttling())
      .rejectsOnce(throughputExceeded())
      .resolves({ FaceDetails: [{ BoundingBox: { Width: 0.2, Height: 0.4, Left: 0.4, Top: 0.2 }, Confidence: 99.9 }] });

    const faces = await collection.detectFaces({ bytes: jpegBytes });
    assert.equal(faces.length, 1);
    const calls = mock.commandCalls(DetectFacesCommand);
    assert.equal(calls.length, 3);
    for (const call of calls) assert.deepEqual(call.args[0].input, { Image: { Bytes: jpegBytes }, Attributes: ['DEFAULT'] });
    assert.deepEqual(policy.delays, [100, 200]);
  });

  test('throttling that never ends is BACKEND_UNAVAILABLE (retryable) after `attempts` tries; the back-off is capped', async () => {
    const policy = recordingPolicy(6);
    const { mock, collection } = setup(policy);
    mock.on(SearchFacesByImageCommand).rejects(throttling());

    const err = await rejectsWith(collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 90, maxFaces: 1 }), ErrorCode.BACKEND_UNAVAILABLE, true);
    assert.deepEqual(err.details, { operation: 'rekognition:SearchFacesByImage', aws_error: 'ThrottlingException' });
    assert.ok(err.cause instanceof ThrottlingException);
    assert.equal(mock.commandCalls(SearchFacesByImageCommand).length, 6);
    assert.deepEqual(policy.delays, [100, 200, 400, 400, 400]);
  });

  test('the jitter is a random part of the ceiling (full jitter)', async () => {
    const policy = recordingPolicy(4, () => 0.5);
    const { mock, collection } = setup(policy);
    mock.on(ListFacesCommand).rejects(throughputExceeded());
    await rejectsWith(collect(collection.listFaces()), ErrorCode.BACKEND_UNAVAILABLE, true);
    assert.equal(mock.commandCalls(ListFacesCommand).length, 4);
    assert.deepEqual(policy.delays, [50, 100, 200]);
  });

  test('InternalServerError (5xx) is retried; AccessDeniedException is BACKEND_FAILED at once', async () => {
    const policy = recordingPolicy(3);
    const { mock, collection } = setup(policy);
    mock
      .on(IndexFacesCommand)
      .rejectsOnce(new InternalServerError({ message: 'Internal server error', $metadata: meta(500) }))
      .resolves({ FaceRecords: [], UnindexedFaces: [], FaceModelVersion: '7.0' });
    assert.deepEqual(await collection.indexFaces(s3Image, { externalImageId: 'x', qualityFilter: 'AUTO' }), {
      indexed: [],
      unindexed: [],
      faceModelVersion: '7.0',
    });
    assert.equal(mock.commandCalls(IndexFacesCommand).length, 2);
    assert.deepEqual(policy.delays, [100]);

    mock.on(DeleteFacesCommand).rejects(new AccessDeniedException({ message: 'User is not authorized to perform: rekognition:DeleteFaces', $metadata: meta(400) }));
    await rejectsWith(collection.deleteFaces([faceId(1)]), ErrorCode.BACKEND_FAILED, false);
    assert.equal(mock.commandCalls(DeleteFacesCommand).length, 1);
    assert.deepEqual(policy.delays, [100]);
  });

  test('a throttled no-face search is retried and then answers no face', async () => {
    const policy = recordingPolicy(3);
    const { mock, collection } = setup(policy);
    mock.on(SearchFacesByImageCommand).rejectsOnce(throttling()).rejects(noFaces());
    assert.deepEqual(await collection.searchFacesByImage({ bytes: jpegBytes }, { faceMatchThreshold: 80, maxFaces: 1 }), { searched: undefined, matches: [] });
    assert.equal(mock.commandCalls(SearchFacesByImageCommand).length, 2);
  });
});

describe('isTransientAwsError / toBackendError / callAws', () => {
  test('classifies AWS errors', () => {
    assert.equal(isTransientAwsError(throttling()), true);
    assert.equal(isTransientAwsError(throughputExceeded()), true);
    assert.equal(isTransientAwsError(new InternalServerError({ message: 'x', $metadata: meta(500) })), true);
    assert.equal(isTransientAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), true);
    assert.equal(isTransientAwsError({ name: 'Unknown', $metadata: { httpStatusCode: 503 } }), true);
    assert.equal(isTransientAwsError({ name: 'Unknown', $retryable: { throttling: true } }), true);
    assert.equal(isTransientAwsError(noFaces()), false);
    assert.equal(isTransientAwsError(new AccessDeniedException({ message: 'x', $metadata: meta(400) })), false);
    assert.equal(isTransientAwsError(notFound()), false);
    assert.equal(isTransientAwsError(undefined), false);
    assert.equal(isTransientAwsError('ThrottlingException'), false);
  });

  test('toBackendError maps image errors and keeps AppErrors', () => {
    assert.equal(toBackendError(new InvalidImageFormatException({ message: 'x', $metadata: meta(400) }), 'op').code, ErrorCode.IMAGE_UNSUPPORTED_FORMAT);
    assert.equal(toBackendError(new ImageTooLargeException({ message: 'x', $metadata: meta(400) }), 'op').code, ErrorCode.IMAGE_TOO_LARGE);
    const app = new AppError(ErrorCode.NO_FACE, 'none');
    assert.equal(toBackendError(app, 'op'), app);
    assert.equal(toBackendError(null, 'op').code, ErrorCode.BACKEND_FAILED);
  });

  test('callAws: attempts 1 means no retry; `handle` turns an expected error into an answer', async () => {
    const policy = recordingPolicy(1);
    let calls = 0;
    await rejectsWith(
      callAws('test:Op', policy, log, async () => {
        calls++;
        throw throttling();
      }),
      ErrorCode.BACKEND_UNAVAILABLE,
      true,
    );
    assert.equal(calls, 1);
    assert.deepEqual(policy.delays, []);

    const value = await callAws<string>(
      'test:Op',
      policy,
      log,
      async () => {
        throw notFound();
      },
      (err) => (err instanceof ResourceNotFoundException ? { value: 'missing' } : undefined),
    );
    assert.equal(value, 'missing');
  });
});
